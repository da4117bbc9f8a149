/*
 * ORA- error numbers to deltaload codes. The retryable list is the errors
 * of a lost or restarting server (what a failover or a dropped network
 * looks like), so the engine retries the window instead of failing it.
 */
#include "ora_internal.h"

int dld_ora_classify(int32_t ora_code)
{
    switch (ora_code) {
    /* connection lost, instance going down or coming up, network timeouts */
    case 28:    /* your session has been killed */
    case 1012:  /* not logged on */
    case 1033:  /* initialization or shutdown in progress */
    case 1034:  /* ORACLE not available */
    case 1089:  /* immediate shutdown in progress */
    case 1090:  /* shutdown in progress */
    case 1092:  /* instance terminated, disconnection forced */
    case 1555:  /* snapshot too old: a later SCN will do */
    case 2396:  /* exceeded maximum idle time */
    case 3113:  /* end-of-file on communication channel */
    case 3114:  /* not connected to ORACLE */
    case 3135:  /* connection lost contact */
    case 3136:  /* inbound connection timed out */
    case 3156:  /* OCI call timed out */
    case 12152: /* unable to send break message */
    case 12153: /* not connected */
    case 12170: /* connect timeout occurred */
    case 12514: /* listener does not currently know of service (failover) */
    case 12528: /* all appropriate instances are blocking new connections */
    case 12537: /* connection closed */
    case 12541: /* no listener */
    case 12543: /* destination host unreachable */
    case 12547: /* lost contact */
    case 12560: /* protocol adapter error */
    case 12571: /* packet writer failure */
    case 25408: /* can not safely replay call */
        return DLD_ERR_RETRY;
    case 18:    /* maximum number of sessions exceeded */
    case 20:    /* maximum number of processes exceeded */
    case 12516: /* listener could not find available handler */
    case 12519: /* no appropriate service handler found */
    case 12520: /* no available handler for the requested server type */
        return DLD_ERR_THROTTLED;
    case 1004:  /* default username feature not supported */
    case 1005:  /* null password given */
    case 1017:  /* invalid username/password */
    case 1031:  /* insufficient privileges */
    case 1045:  /* lacks CREATE SESSION privilege */
    case 28000: /* the account is locked */
    case 28001: /* the password has expired */
        return DLD_ERR_AUTH;
    case 942:   /* table or view does not exist */
    case 4043:  /* object does not exist */
        return DLD_ERR_NOT_FOUND;
    case 904:   /* invalid identifier: a filter column that is not there */
    case 1861:  /* literal does not match format string */
    case 1722:  /* invalid number */
    case 12154: /* could not resolve the connect identifier */
    case 12162: /* TNS: net service name is incorrectly specified */
        return DLD_ERR_CONFIG;
    default:
        return DLD_ERR_FATAL;
    }
}
