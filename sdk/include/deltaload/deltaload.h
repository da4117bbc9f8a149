/* Everything a plugin author needs: include this one header. */
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
#include "format.h"
#include "lake.h"
#endif
