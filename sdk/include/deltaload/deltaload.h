/* Everything a plugin author needs: the ABI (abi.h and the kinds' headers)
 * and the core support layer (sdk.h: errors, options, Arrow builders),
 * which every plugin links (libdeltaload_sdk, deltaload-sdk.pc,
 * deltaload::sdk).
 * The other SDK layers are separate libraries with their own headers,
 * included and linked only by the plugins that use them:
 *   format.h, lake.h, iceberg.h  the lake layer      deltaload-sdk-lake     deltaload::sdk-lake
 *   aws.h                        the AWS layer       deltaload-sdk-aws      deltaload::sdk-aws
 *   schedule.h                   schedule expressions deltaload-sdk-schedule deltaload::sdk-schedule */
#ifndef DELTALOAD_H
#define DELTALOAD_H
#include "abi.h"
#include "arrow_c.h"
#include "table.h"
#include "source.h"
#include "target.h"
#include "state.h"
#include "scheduler.h"
#include "sdk.h"
#endif
