package io.ibkey.android.common

import io.ibkey.core.AccountsException
import io.ibkey.core.ActivationException
import io.ibkey.core.ApprovalException
import io.ibkey.core.CodesException
import io.ibkey.core.DiagnosticsException
import io.ibkey.core.GateException
import io.ibkey.core.OtpException
import io.ibkey.core.RecoveryException
import io.ibkey.core.ScanException
import io.ibkey.core.StoreException

/**
 * The core's stable error code (such as `ACT_CODE_USED`) when this is one of the core's
 * user-facing exceptions, else `null`. For support, analytics and diagnostics; show the user
 * [Throwable.message] instead.
 */
val Throwable.ibkeyCode: String?
    get() = when (this) {
        is ActivationException -> code()
        is ApprovalException -> code()
        is CodesException -> code()
        is OtpException -> code()
        is AccountsException -> code()
        is GateException -> code()
        is StoreException -> code()
        is ScanException -> code()
        is DiagnosticsException -> code()
        is RecoveryException -> code()
        else -> null
    }

/**
 * The PIN or biometric failure behind this exception, if that is what it is: a [GateException]
 * itself, or one nested in an activation, approval, codes, account or recovery error. Lets a screen react to a lockout or
 * a cancel the same way whatever the user was doing.
 */
val Throwable.verificationFailure: GateException?
    get() = when (this) {
        is GateException -> this
        is ActivationException.Verification -> error
        is ApprovalException.Verification -> error
        is CodesException.Verification -> error
        is AccountsException.Verification -> error
        is RecoveryException.Verification -> error
        else -> null
    }
