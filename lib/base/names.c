/*
 * names.c - the lowercase words for every enumeration, and back.
 */
#include "base/common.h"

#include <string.h>

const char *cairn_kind_name(cairn_kind kind)
{
    switch (kind) {
    case CAIRN_KIND_PREFLIGHT:
        return "preflight";
    case CAIRN_KIND_STOP:
        return "stop";
    case CAIRN_KIND_START:
        return "start";
    case CAIRN_KIND_SNAPSHOT:
        return "snapshot";
    case CAIRN_KIND_TRANSFER:
        return "transfer";
    case CAIRN_KIND_VERIFY:
        return "verify";
    case CAIRN_KIND_RESTORE:
        return "restore";
    case CAIRN_KIND_FINALIZE:
        return "finalize";
    case CAIRN_KIND_TASK:
        return "task";
    case CAIRN_KIND_CLEANUP:
        return "cleanup";
    }
    return "unknown";
}

const char *cairn_op_state_name(cairn_op_state state)
{
    switch (state) {
    case CAIRN_OP_BLOCKED:
        return "blocked";
    case CAIRN_OP_READY:
        return "ready";
    case CAIRN_OP_PENDING:
        return "pending";
    case CAIRN_OP_COMPLETED:
        return "completed";
    case CAIRN_OP_FAILED:
        return "failed";
    case CAIRN_OP_SKIPPED:
        return "skipped";
    }
    return "unknown";
}

const char *cairn_run_state_name(cairn_run_state state)
{
    switch (state) {
    case CAIRN_RUN_AWAITING_PREFLIGHT:
        return "awaiting-preflight";
    case CAIRN_RUN_RUNNING:
        return "running";
    case CAIRN_RUN_COMPLETED:
        return "completed";
    case CAIRN_RUN_FAILED:
        return "failed";
    case CAIRN_RUN_NEEDS_ATTENTION:
        return "needs-attention";
    case CAIRN_RUN_TIMED_OUT:
        return "timed-out";
    case CAIRN_RUN_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}

const char *cairn_stopped_reason_name(cairn_stopped_reason reason)
{
    switch (reason) {
    case CAIRN_STOPPED_COMPLETE:
        return "complete";
    case CAIRN_STOPPED_AWAITING_PREFLIGHT:
        return "awaiting-preflight";
    case CAIRN_STOPPED_FAILED:
        return "failed";
    case CAIRN_STOPPED_IN_DOUBT:
        return "in-doubt";
    case CAIRN_STOPPED_RUNNING:
        return "running";
    case CAIRN_STOPPED_TIMED_OUT:
        return "timed-out";
    case CAIRN_STOPPED_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}

const char *cairn_next_action_name(cairn_next_action action)
{
    switch (action) {
    case CAIRN_NEXT_DONE:
        return "done";
    case CAIRN_NEXT_ACCEPT_PREFLIGHT:
        return "accept-preflight";
    case CAIRN_NEXT_RETRY_FAILED:
        return "retry-failed";
    case CAIRN_NEXT_RESOLVE_IN_DOUBT:
        return "resolve-in-doubt";
    case CAIRN_NEXT_RESUME:
        return "resume";
    case CAIRN_NEXT_RESTART_TARGETS:
        return "restart-targets";
    case CAIRN_NEXT_WAIT_COMMAND:
        return "wait-command";
    case CAIRN_NEXT_WAIT_RUNNER:
        return "wait-runner";
    }
    return "unknown";
}

const char *cairn_record_type_name(cairn_record_type type)
{
    switch (type) {
    case CAIRN_REC_CREATE:
        return "create";
    case CAIRN_REC_ACCEPT:
        return "accept-preflight";
    case CAIRN_REC_CLAIM:
        return "claim";
    case CAIRN_REC_RECEIPT:
        return "receipt";
    case CAIRN_REC_RETRY:
        return "retry";
    case CAIRN_REC_RESOLVE:
        return "resolve";
    case CAIRN_REC_CANCEL:
        return "cancel";
    case CAIRN_REC_TIMEOUT:
        return "timeout";
    case CAIRN_REC_PRUNE:
        return "prune";
    case CAIRN_REC_HOLD:
        return "hold";
    case CAIRN_REC_RELEASE:
        return "release";
    case CAIRN_REC_ROTATE:
        return "rotate-key";
    }
    return "unknown";
}

const char *cairn_error_class_name(cairn_error_class cls)
{
    switch (cls) {
    case CAIRN_CLASS_NONE:
        return "none";
    case CAIRN_CLASS_RETRYABLE:
        return "retryable";
    case CAIRN_CLASS_TERMINAL:
        return "terminal";
    }
    return "unknown";
}

const char *cairn_claim_kind_name(cairn_claim_kind kind)
{
    switch (kind) {
    case CAIRN_CLAIM_NORMAL:
        return "normal";
    case CAIRN_CLAIM_CONTAINMENT:
        return "containment";
    case CAIRN_CLAIM_CLEANUP:
        return "cleanup";
    }
    return "unknown";
}
