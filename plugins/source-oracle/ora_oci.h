/*
 * The handful of Oracle Call Interface functions and constants this plugin
 * uses, declared here so it builds without Oracle's SDK. The client library
 * (libclntsh.so) is opened at run time with dlopen, as Oracle's own ODPI-C
 * does, so neither the plugin nor the core links it.
 *
 * Signatures and values follow the Oracle Call Interface Programmer's Guide
 * (OCI relational functions, datetime functions, LOB functions) and oci.h;
 * OCI's integer types are spelled with <stdint.h> types of the same size
 * (ub4 = uint32_t, sb8 = int64_t, ...). Handles are opaque `void *`.
 *
 * Thread-safety: a loaded struct dld_ora_oci is read-only after loading and
 * may be shared; the library is opened with OCI_THREADED.
 */
#ifndef DLD_ORA_OCI_H
#define DLD_ORA_OCI_H

#include <stddef.h>
#include <stdint.h>

#include <deltaload/sdk.h>

/* return codes */
#define DLD_OCI_SUCCESS 0
#define DLD_OCI_SUCCESS_WITH_INFO 1
#define DLD_OCI_NEED_DATA 99
#define DLD_OCI_NO_DATA 100
#define DLD_OCI_ERROR (-1)
#define DLD_OCI_INVALID_HANDLE (-2)

/* modes */
#define DLD_OCI_DEFAULT 0u
#define DLD_OCI_THREADED 0x1u
#define DLD_OCI_DESCRIBE_ONLY 0x10u
#define DLD_OCI_NTV_SYNTAX 1u
#define DLD_OCI_FETCH_NEXT 2u
#define DLD_OCI_CRED_RDBMS 1u
#define DLD_OCI_CRED_EXT 2u
#define DLD_OCI_FIRST_PIECE 1u
#define DLD_OCI_NEXT_PIECE 2u

/* handle and descriptor types */
#define DLD_OCI_HTYPE_ENV 1u
#define DLD_OCI_HTYPE_ERROR 2u
#define DLD_OCI_HTYPE_SVCCTX 3u
#define DLD_OCI_HTYPE_STMT 4u
#define DLD_OCI_HTYPE_SERVER 8u
#define DLD_OCI_HTYPE_SESSION 9u
#define DLD_OCI_DTYPE_LOB 50u
#define DLD_OCI_DTYPE_PARAM 53u
#define DLD_OCI_DTYPE_TIMESTAMP 68u
#define DLD_OCI_DTYPE_TIMESTAMP_TZ 69u
#define DLD_OCI_DTYPE_TIMESTAMP_LTZ 70u

/* attributes */
#define DLD_OCI_ATTR_DATA_SIZE 1u     /* param: ub2 */
#define DLD_OCI_ATTR_DATA_TYPE 2u     /* param: ub2 */
#define DLD_OCI_ATTR_NAME 4u          /* param: text * + ub4 length */
#define DLD_OCI_ATTR_PRECISION 5u     /* param: sb2 (implicit describe) */
#define DLD_OCI_ATTR_SCALE 6u         /* param: sb1 */
#define DLD_OCI_ATTR_SERVER 6u        /* svcctx */
#define DLD_OCI_ATTR_SESSION 7u       /* svcctx */
#define DLD_OCI_ATTR_IS_NULL 7u       /* param: ub1 */
#define DLD_OCI_ATTR_PREFETCH_ROWS 11u
#define DLD_OCI_ATTR_PREFETCH_MEMORY 13u
#define DLD_OCI_ATTR_PARAM_COUNT 18u  /* stmt: ub4 */
#define DLD_OCI_ATTR_USERNAME 22u
#define DLD_OCI_ATTR_PASSWORD 23u
#define DLD_OCI_ATTR_CHARSET_FORM 32u /* param: ub1 */
#define DLD_OCI_ATTR_ROWS_FETCHED 197u
#define DLD_OCI_ATTR_CHAR_SIZE 286u   /* param: ub2 */
#define DLD_OCI_ATTR_CALL_TIMEOUT 531u /* svcctx: ub4 milliseconds (18c clients and later) */

/* external data types (SQLT_*) and what describe returns */
#define DLD_SQLT_CHR 1
#define DLD_SQLT_NUM 2
#define DLD_SQLT_VNU 6
#define DLD_SQLT_LNG 8
#define DLD_SQLT_DAT 12
#define DLD_SQLT_BFLOAT 21
#define DLD_SQLT_BDOUBLE 22
#define DLD_SQLT_BIN 23
#define DLD_SQLT_LBI 24
#define DLD_SQLT_AFC 96
#define DLD_SQLT_IBFLOAT 100
#define DLD_SQLT_IBDOUBLE 101
#define DLD_SQLT_RDD 104
#define DLD_SQLT_CLOB 112
#define DLD_SQLT_BLOB 113
#define DLD_SQLT_TIMESTAMP 187
#define DLD_SQLT_TIMESTAMP_TZ 188
#define DLD_SQLT_INTERVAL_YM 189
#define DLD_SQLT_INTERVAL_DS 190
#define DLD_SQLT_TIMESTAMP_LTZ 232
#define DLD_OCI_TYPECODE_ROWID 262 /* UROWID in some describes */

#define DLD_SQLCS_IMPLICIT 1
#define DLD_SQLCS_NCHAR 2
#define DLD_OCI_AL32UTF8 873 /* character set id: UTF-8 for both CHAR and NCHAR data */
#define DLD_OCI_IND_NULL (-1)

/* The loaded library: one function pointer per OCI call used. */
struct dld_ora_oci {
    void *lib;
    char path[1024]; /* the file that was opened */
    int version[2];  /* client major.minor, 0 if unknown */
    int (*EnvNlsCreate)(void **envp, uint32_t mode, void *ctxp, void *malocfp, void *ralocfp, void *mfreefp,
                        size_t xtramem_sz, void **usrmempp, uint16_t charset, uint16_t ncharset);
    int (*HandleAlloc)(const void *parenth, void **hndlpp, uint32_t type, size_t xtramem_sz, void **usrmempp);
    int (*HandleFree)(void *hndlp, uint32_t type);
    int (*DescriptorAlloc)(const void *parenth, void **descpp, uint32_t type, size_t xtramem_sz,
                           void **usrmempp);
    int (*DescriptorFree)(void *descp, uint32_t type);
    int (*AttrSet)(void *trgthndlp, uint32_t trghndltyp, void *attributep, uint32_t size, uint32_t attrtype,
                   void *errhp);
    int (*AttrGet)(const void *trgthndlp, uint32_t trghndltyp, void *attributep, uint32_t *sizep,
                   uint32_t attrtype, void *errhp);
    int (*ParamGet)(const void *hndlp, uint32_t htype, void *errhp, void **parmdpp, uint32_t pos);
    int (*ServerAttach)(void *srvhp, void *errhp, const char *dblink, int32_t dblink_len, uint32_t mode);
    int (*ServerDetach)(void *srvhp, void *errhp, uint32_t mode);
    int (*SessionBegin)(void *svchp, void *errhp, void *usrhp, uint32_t credt, uint32_t mode);
    int (*SessionEnd)(void *svchp, void *errhp, void *usrhp, uint32_t mode);
    int (*StmtPrepare2)(void *svchp, void **stmtp, void *errhp, const char *stmt, uint32_t stmt_len,
                        const char *key, uint32_t key_len, uint32_t language, uint32_t mode);
    int (*StmtRelease)(void *stmtp, void *errhp, const char *key, uint32_t key_len, uint32_t mode);
    int (*StmtExecute)(void *svchp, void *stmtp, void *errhp, uint32_t iters, uint32_t rowoff,
                       const void *snap_in, void *snap_out, uint32_t mode);
    int (*StmtFetch2)(void *stmtp, void *errhp, uint32_t nrows, uint16_t orientation, int32_t scroll_offset,
                      uint32_t mode);
    int (*BindByPos2)(void *stmtp, void **bindp, void *errhp, uint32_t position, void *valuep, int64_t value_sz,
                      uint16_t dty, void *indp, uint32_t *alenp, uint16_t *rcodep, uint32_t maxarr_len,
                      uint32_t *curelep, uint32_t mode);
    int (*DefineByPos2)(void *stmtp, void **defnp, void *errhp, uint32_t position, void *valuep,
                        int64_t value_sz, uint16_t dty, void *indp, uint32_t *rlenp, uint16_t *rcodep,
                        uint32_t mode);
    int (*ErrorGet)(void *hndlp, uint32_t recordno, char *sqlstate, int32_t *errcodep, char *bufp, uint32_t bufsiz,
                    uint32_t type);
    int (*TransRollback)(void *svchp, void *errhp, uint32_t flags);
    int (*LobGetLength2)(void *svchp, void *errhp, void *locp, uint64_t *lenp);
    int (*LobRead2)(void *svchp, void *errhp, void *locp, uint64_t *byte_amtp, uint64_t *char_amtp,
                    uint64_t offset, void *bufp, uint64_t bufl, uint8_t piece, void *ctxp, void *cbfp,
                    uint16_t csid, uint8_t csfrm);
    int (*DateTimeGetDate)(void *hndl, void *err, const void *datetime, int16_t *yr, uint8_t *mnth, uint8_t *dy);
    int (*DateTimeGetTime)(void *hndl, void *err, void *datetime, uint8_t *hr, uint8_t *mm, uint8_t *ss,
                           uint32_t *fsec);
    int (*DateTimeGetTimeZoneOffset)(void *hndl, void *err, const void *datetime, int8_t *hr, int8_t *mm);
    /* optional (NULL when the library lacks it) */
    void (*ClientVersion)(int *major, int *minor, int *update, int *patch, int *port_update);
    /* optional: without them a signal waits for the call to end (or for
     * call_timeout_ms) */
    int (*Break)(void *hndlp, void *errhp);
    int (*Reset)(void *hndlp, void *errhp);
};

/* The Instant Client instructions every "library missing" message carries. */
extern const char dld_ora_instant_client_help[];

/* Opens the client library: only `lib_dir` when it is set (as ODPI-C does
 * with its lib_dir), otherwise the system search path (LD_LIBRARY_PATH,
 * the ld.so cache) and then $ORACLE_HOME/lib. On failure the error names
 * the library, every place tried with the loader's reason, and the Instant
 * Client steps; code DLD_ERR_CONFIG. The caller owns *out and releases it
 * with dld_ora_oci_unload. */
int dld_ora_oci_load(const char *lib_dir, struct dld_ora_oci *out, struct dld_error *err);
void dld_ora_oci_unload(struct dld_ora_oci *oci);

#endif
