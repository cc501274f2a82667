package io.ibkey.android

import android.content.Context
import android.os.Build
import androidx.biometric.BiometricManager
import androidx.biometric.BiometricManager.Authenticators.BIOMETRIC_STRONG
import androidx.biometric.BiometricManager.Authenticators.BIOMETRIC_WEAK
import androidx.biometric.BiometricManager.Authenticators.DEVICE_CREDENTIAL
import androidx.biometric.BiometricPrompt
import androidx.core.content.ContextCompat
import androidx.fragment.app.FragmentActivity
import io.ibkey.core.BiometricOutcome
import io.ibkey.core.PinEntry
import io.ibkey.core.PinRequest
import io.ibkey.core.UserVerifier
import io.ibkey.core.VerifierException
import kotlin.coroutines.resume
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.suspendCancellableCoroutine
import kotlinx.coroutines.withContext

/**
 * The app's PIN pad. The core decides everything about the PIN (rules, retries, lockout); the
 * pad only shows [PinRequest.purpose] and [PinRequest.retryReason] and returns what was typed.
 */
fun interface PinPad {
    /**
     * Shows the PIN pad over [activity] and returns the PIN typed, or [PinEntry.Cancelled].
     * Called on the main thread.
     */
    suspend fun requestPin(activity: FragmentActivity, request: PinRequest): PinEntry
}

/**
 * The core's [UserVerifier] on Android: the app's [PinPad] for PINs, BiometricPrompt for
 * biometrics, both shown over [foregroundActivity] on the main thread.
 *
 * The prompt accepts a Class 3 biometric, and also the screen lock when [allowDeviceCredential]
 * is set (pass the same value as the [KeystoreKeyVault]'s [KeyAuthentication], so that what
 * unlocks the prompt also unlocks the keys). On Android 9 and 10, where AndroidX cannot combine
 * Class 3 biometrics with the screen lock, it offers any biometric or the screen lock.
 *
 * Outcomes: success is [BiometricOutcome.VERIFIED]; backing out is [BiometricOutcome.CANCELLED],
 * or [BiometricOutcome.FAILED] when a biometric was presented and not recognised first; the
 * platform's lockouts are [BiometricOutcome.LOCKED_OUT]; no hardware, nothing enrolled or a
 * required security update is [BiometricOutcome.UNAVAILABLE]. BiometricPrompt never says that
 * keys were invalidated: that surfaces when a key is used, as `KeyException.Invalidated` from
 * [KeystoreKeyVault]. With no activity in the foreground the prompt cannot be shown, which is
 * reported as [VerifierException.Failed] (the core treats it as a cancel).
 */
class BiometricUserVerifier(
    context: Context,
    private val foregroundActivity: () -> FragmentActivity?,
    private val pinPad: PinPad,
    private val allowDeviceCredential: Boolean = false,
    private val promptTitle: String = "Confirm it's you",
    private val cancelLabel: String = "Cancel",
) : UserVerifier {

    private val appContext = context.applicationContext

    override suspend fun requestPin(request: PinRequest): PinEntry = withContext(Dispatchers.Main) {
        pinPad.requestPin(activity(), request)
    }

    override suspend fun verifyBiometric(reason: String): BiometricOutcome = withContext(Dispatchers.Main) {
        val authenticators = authenticators()
        when (BiometricManager.from(appContext).canAuthenticate(authenticators)) {
            BiometricManager.BIOMETRIC_SUCCESS, BiometricManager.BIOMETRIC_STATUS_UNKNOWN ->
                prompt(activity(), reason, authenticators)
            else -> BiometricOutcome.UNAVAILABLE
        }
    }

    private fun activity(): FragmentActivity {
        val activity = foregroundActivity()
            ?: throw VerifierException.Failed("no activity is in the foreground to show the prompt over")
        // BiometricPrompt silently shows nothing once the activity's state is saved.
        if (activity.isFinishing || activity.isDestroyed || activity.supportFragmentManager.isStateSaved) {
            throw VerifierException.Failed("the activity is going away; the prompt cannot be shown")
        }
        return activity
    }

    private fun authenticators(): Int = when {
        !allowDeviceCredential -> BIOMETRIC_STRONG
        Build.VERSION.SDK_INT >= Build.VERSION_CODES.R -> BIOMETRIC_STRONG or DEVICE_CREDENTIAL
        else -> BIOMETRIC_WEAK or DEVICE_CREDENTIAL
    }

    private suspend fun prompt(
        activity: FragmentActivity,
        reason: String,
        authenticators: Int,
    ): BiometricOutcome = suspendCancellableCoroutine { continuation ->
        val executor = ContextCompat.getMainExecutor(activity)
        val callback = PromptCallback { outcome -> if (continuation.isActive) continuation.resume(outcome) }
        val prompt = BiometricPrompt(activity, executor, callback)
        val info = BiometricPrompt.PromptInfo.Builder()
            .setTitle(promptTitle)
            .setSubtitle(reason)
            .setAllowedAuthenticators(authenticators)
            .apply {
                // A negative button is required without the screen lock, and refused with it.
                if (authenticators and DEVICE_CREDENTIAL == 0) setNegativeButtonText(cancelLabel)
            }
            .build()
        continuation.invokeOnCancellation { executor.execute { prompt.cancelAuthentication() } }
        prompt.authenticate(info)
    }
}

/**
 * Turns what the user does at the BiometricPrompt into the core's [BiometricOutcome], reported
 * once to [onOutcome]: success is [BiometricOutcome.VERIFIED]; backing out is
 * [BiometricOutcome.CANCELLED], or [BiometricOutcome.FAILED] when a biometric was presented and
 * not recognised first; the platform's lockouts are [BiometricOutcome.LOCKED_OUT]; no hardware,
 * nothing enrolled or a required security update is [BiometricOutcome.UNAVAILABLE]; any other
 * error (or one added in a later Android version) is [BiometricOutcome.FAILED].
 */
internal class PromptCallback(private val onOutcome: (BiometricOutcome) -> Unit) :
    BiometricPrompt.AuthenticationCallback() {

    private var notRecognised = false
    private var reported = false

    override fun onAuthenticationSucceeded(result: BiometricPrompt.AuthenticationResult) =
        report(BiometricOutcome.VERIFIED)

    override fun onAuthenticationFailed() {
        // One biometric that did not match; the prompt stays up for another try.
        notRecognised = true
    }

    override fun onAuthenticationError(errorCode: Int, errString: CharSequence) =
        report(outcomeOf(errorCode, notRecognised))

    private fun report(outcome: BiometricOutcome) {
        if (reported) return
        reported = true
        onOutcome(outcome)
    }

    private companion object {
        fun outcomeOf(errorCode: Int, notRecognised: Boolean): BiometricOutcome = when (errorCode) {
            BiometricPrompt.ERROR_USER_CANCELED,
            BiometricPrompt.ERROR_NEGATIVE_BUTTON,
            BiometricPrompt.ERROR_TIMEOUT,
            -> if (notRecognised) BiometricOutcome.FAILED else BiometricOutcome.CANCELLED
            BiometricPrompt.ERROR_CANCELED -> BiometricOutcome.CANCELLED
            BiometricPrompt.ERROR_LOCKOUT,
            BiometricPrompt.ERROR_LOCKOUT_PERMANENT,
            -> BiometricOutcome.LOCKED_OUT
            BiometricPrompt.ERROR_HW_UNAVAILABLE,
            BiometricPrompt.ERROR_HW_NOT_PRESENT,
            BiometricPrompt.ERROR_NO_BIOMETRICS,
            BiometricPrompt.ERROR_NO_DEVICE_CREDENTIAL,
            BiometricPrompt.ERROR_SECURITY_UPDATE_REQUIRED,
            -> BiometricOutcome.UNAVAILABLE
            // ERROR_UNABLE_TO_PROCESS, ERROR_NO_SPACE, ERROR_VENDOR and codes added later.
            else -> BiometricOutcome.FAILED
        }
    }
}
