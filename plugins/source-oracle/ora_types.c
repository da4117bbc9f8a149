/*
 * Oracle column types to Arrow types and fetch strategies. The rule is
 * "exact or an error": integers become int64 only when every value of the
 * declared precision fits, other NUMBERs are decimal128 with the declared
 * scale (or the number_scale option when none is declared), and a value
 * that does not fit fails the load instead of being rounded.
 */
#include <string.h>

#include "ora_internal.h"
#include "ora_oci.h"

static void s_number(const struct dld_ora_desc *d, int32_t number_scale, struct dld_ora_mapping *m,
                     struct dld_error *err, int *rc)
{
    m->dty = DLD_SQLT_VNU;
    m->width = 22;
    m->wm_kind = DLD_ORA_WM_NUMBER;
    m->oracle_name = d->scale == -127 && d->precision > 0 ? "FLOAT" : "NUMBER";
    if (d->scale == -127) {
        /* NUMBER without precision, or FLOAT(b): up to 38 digits, any scale */
        m->fetch = DLD_ORA_F_DECIMAL;
        m->type = DLD_T_DECIMAL128;
        m->precision = 38;
        m->scale = number_scale;
        return;
    }
    if (d->scale <= 0) {
        /* NUMBER(p, s<=0) holds integers of up to p - s digits;
         * NUMBER(*, 0) reports precision 0: 38 digits */
        int digits = d->precision == 0 ? 38 : d->precision - d->scale;
        if (digits <= 18) {
            m->fetch = DLD_ORA_F_INT64;
            m->type = DLD_T_INT64;
            return;
        }
        m->fetch = DLD_ORA_F_DECIMAL;
        m->type = DLD_T_DECIMAL128;
        m->precision = digits > 38 ? 38 : digits;
        m->scale = 0;
        return;
    }
    if (d->scale > 38) {
        *rc = dld_error_set(err, DLD_ERR_UNSUPPORTED,
                            "NUMBER(%d,%d) has a scale above 38, which no decimal128 can hold", d->precision,
                            d->scale);
        return;
    }
    m->fetch = DLD_ORA_F_DECIMAL;
    m->type = DLD_T_DECIMAL128;
    /* NUMBER(2,5) holds 0.00099 at most: precision below scale */
    m->precision = d->precision < d->scale ? d->scale : d->precision;
    if (m->precision > 38)
        m->precision = 38;
    m->scale = d->scale;
}

static void s_text(const struct dld_ora_desc *d, struct dld_ora_mapping *m, const char *name, int wm)
{
    size_t chars = d->char_size > d->size ? d->char_size : d->size;
    m->fetch = DLD_ORA_F_TEXT;
    m->dty = DLD_SQLT_CHR;
    /* up to 4 UTF-8 bytes per character whatever the database's charset */
    m->width = (chars ? chars : 1) * 4;
    m->type = DLD_T_STRING;
    m->wm_kind = wm;
    m->oracle_name = name;
}

static void s_timestamp(const struct dld_ora_desc *d, struct dld_ora_mapping *m, uint16_t dty, uint32_t dtype,
                        bool zoned, bool companion, int wm, const char *name)
{
    m->fetch = DLD_ORA_F_TIMESTAMP;
    m->dty = dty;
    m->dtype_desc = dtype;
    m->width = sizeof(void *);
    m->type = DLD_T_TIMESTAMP;
    /* TIMESTAMP(0..6) fits microseconds (years -4712..9999); (7..9) needs nanoseconds */
    m->unit = d->scale > 6 ? DLD_UNIT_NANO : DLD_UNIT_MICRO;
    m->zoned = zoned;
    m->tz = zoned ? "UTC" : NULL;
    m->tz_companion = companion;
    m->wm_kind = wm;
    m->oracle_name = name;
}

int dld_ora_type_map(const struct dld_ora_desc *d, int32_t number_scale, bool tz_offset_columns,
                     struct dld_ora_mapping *m, struct dld_error *err)
{
    int rc = DLD_OK;
    memset(m, 0, sizeof(*m));
    if (number_scale < 0 || number_scale > 38)
        return dld_error_set(err, DLD_ERR_CONFIG, "number_scale must be 0..38, not %d", number_scale);
    bool nchar = d->csform == DLD_SQLCS_NCHAR;
    switch (d->dtype) {
    case DLD_SQLT_NUM:
        s_number(d, number_scale, m, err, &rc);
        return rc;
    case DLD_SQLT_IBFLOAT:
    case DLD_SQLT_BFLOAT:
        m->fetch = DLD_ORA_F_FLOAT;
        m->dty = DLD_SQLT_BFLOAT;
        m->width = 4;
        m->type = DLD_T_FLOAT32;
        m->wm_kind = DLD_ORA_WM_NUMBER;
        m->oracle_name = "BINARY_FLOAT";
        return DLD_OK;
    case DLD_SQLT_IBDOUBLE:
    case DLD_SQLT_BDOUBLE:
        m->fetch = DLD_ORA_F_DOUBLE;
        m->dty = DLD_SQLT_BDOUBLE;
        m->width = 8;
        m->type = DLD_T_FLOAT64;
        m->wm_kind = DLD_ORA_WM_NUMBER;
        m->oracle_name = "BINARY_DOUBLE";
        return DLD_OK;
    case DLD_SQLT_CHR:
        s_text(d, m, nchar ? "NVARCHAR2" : "VARCHAR2", DLD_ORA_WM_TEXT);
        return DLD_OK;
    case DLD_SQLT_AFC:
        s_text(d, m, nchar ? "NCHAR" : "CHAR", DLD_ORA_WM_TEXT);
        return DLD_OK;
    case DLD_SQLT_RDD:
    case DLD_OCI_TYPECODE_ROWID:
        s_text(d, m, "ROWID", 0);
        m->width = 4000 * 2; /* UROWID text can be long; ROWID is 18 characters */
        if (d->dtype == DLD_SQLT_RDD && d->size <= 16)
            m->width = 32;
        m->select_as = DLD_ORA_SELECT_ROWID_TEXT;
        return DLD_OK;
    case DLD_SQLT_INTERVAL_YM:
    case DLD_SQLT_INTERVAL_DS:
        s_text(d, m, d->dtype == DLD_SQLT_INTERVAL_YM ? "INTERVAL YEAR TO MONTH" : "INTERVAL DAY TO SECOND", 0);
        m->width = 64;
        m->select_as = DLD_ORA_SELECT_TO_CHAR;
        return DLD_OK;
    case DLD_SQLT_BIN:
        m->fetch = DLD_ORA_F_RAW;
        m->dty = DLD_SQLT_BIN;
        m->width = d->size ? d->size : 1;
        m->type = DLD_T_BINARY;
        m->oracle_name = "RAW";
        return DLD_OK;
    case DLD_SQLT_DAT:
        m->fetch = DLD_ORA_F_DATE;
        m->dty = DLD_SQLT_DAT;
        m->width = 7;
        m->type = DLD_T_TIMESTAMP;
        m->unit = DLD_UNIT_SECOND;
        m->wm_kind = DLD_ORA_WM_DATE;
        m->oracle_name = "DATE";
        return DLD_OK;
    case DLD_SQLT_TIMESTAMP:
        s_timestamp(d, m, DLD_SQLT_TIMESTAMP, DLD_OCI_DTYPE_TIMESTAMP, false, false, DLD_ORA_WM_TIMESTAMP,
                    "TIMESTAMP");
        return DLD_OK;
    case DLD_SQLT_TIMESTAMP_TZ:
        s_timestamp(d, m, DLD_SQLT_TIMESTAMP_TZ, DLD_OCI_DTYPE_TIMESTAMP_TZ, true, tz_offset_columns,
                    DLD_ORA_WM_TIMESTAMP_TZ, "TIMESTAMP WITH TIME ZONE");
        return DLD_OK;
    case DLD_SQLT_TIMESTAMP_LTZ:
        s_timestamp(d, m, DLD_SQLT_TIMESTAMP_LTZ, DLD_OCI_DTYPE_TIMESTAMP_LTZ, true, false,
                    DLD_ORA_WM_TIMESTAMP_LTZ, "TIMESTAMP WITH LOCAL TIME ZONE");
        return DLD_OK;
    case DLD_SQLT_CLOB:
        m->fetch = DLD_ORA_F_CLOB;
        m->dty = DLD_SQLT_CLOB;
        m->dtype_desc = DLD_OCI_DTYPE_LOB;
        m->width = sizeof(void *);
        m->type = DLD_T_STRING;
        m->oracle_name = nchar ? "NCLOB" : "CLOB";
        return DLD_OK;
    case DLD_SQLT_BLOB:
        m->fetch = DLD_ORA_F_BLOB;
        m->dty = DLD_SQLT_BLOB;
        m->dtype_desc = DLD_OCI_DTYPE_LOB;
        m->width = sizeof(void *);
        m->type = DLD_T_BINARY;
        m->oracle_name = "BLOB";
        return DLD_OK;
    case DLD_SQLT_LNG:
        return dld_error_set(err, DLD_ERR_UNSUPPORTED,
                             "LONG columns are not read (Oracle deprecated LONG; convert the column to CLOB)");
    case DLD_SQLT_LBI:
        return dld_error_set(err, DLD_ERR_UNSUPPORTED,
                             "LONG RAW columns are not read (Oracle deprecated LONG RAW; convert the column to BLOB)");
    default:
        return dld_error_set(err, DLD_ERR_UNSUPPORTED,
                             "Oracle type code %u (object, XMLType, JSON, BFILE, VECTOR, BOOLEAN or another type "
                             "without an Arrow mapping here) is not read",
                             d->dtype);
    }
}
