package io.ibkey.android

import android.content.Context
import android.hardware.biometrics.BiometricManager as PlatformBiometricManager
import androidx.biometric.BiometricPrompt
import androidx.fragment.app.FragmentActivity
import io.ibkey.core.BiometricOutcome
import io.ibkey.core.PinEntry
import io.ibkey.core.PinPurpose
import io.ibkey.core.PinRequest
import io.ibkey.core.VerifierException
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertSame
import kotlin.test.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.shadow.api.Shadow
import org.robolectric.shadows.ShadowBiometricManager

/**
 * [BiometricUserVerifier]: what the user does at the BiometricPrompt becomes the outcome the core
 * acts on, the PIN pad is shown over the activity in front, and nothing is shown when it cannot be.
 */
@RunWith(RobolectricTestRunner::class)
class BiometricUserVerifierTest {
    private val context: Context = RuntimeEnvironment.getApplication()

    /** Plays the prompt's callbacks in order and returns the outcome reported (the first one). */
    private fun outcomeOf(vararg events: (BiometricPrompt.AuthenticationCallback) -> Unit): BiometricOutcome? {
        val outcomes = mutableListOf<BiometricOutcome>()
        val callback = PromptCallback { outcomes += it }
        events.forEach { it(callback) }
        assertTrue(outcomes.size <= 1, "more than one outcome: $outcomes")
        return outcomes.singleOrNull()
    }

    private val recognised: (BiometricPrompt.AuthenticationCallback) -> Unit = {
        it.onAuthenticationSucceeded(successResult())
    }
    private val notRecognised: (BiometricPrompt.AuthenticationCallback) -> Unit = { it.onAuthenticationFailed() }
    private fun error(code: Int): (BiometricPrompt.AuthenticationCallback) -> Unit = {
        it.onAuthenticationError(code, "error $code")
    }

    @Test
    fun `a recognised biometric is Verified, even after a miss`() {
        assertEquals(BiometricOutcome.VERIFIED, outcomeOf(recognised))
        assertEquals(BiometricOutcome.VERIFIED, outcomeOf(notRecognised, notRecognised, recognised))
    }

    @Test
    fun `a miss alone decides nothing, the prompt stays up for another try`() {
        assertEquals(null, outcomeOf(notRecognised, notRecognised))
    }

    @Test
    fun `backing out without trying is Cancelled, after a miss it is Failed`() {
        for (code in listOf(
            BiometricPrompt.ERROR_NEGATIVE_BUTTON, // "Cancel"
            BiometricPrompt.ERROR_USER_CANCELED, // back, or a tap outside
            BiometricPrompt.ERROR_TIMEOUT,
        )) {
            assertEquals(BiometricOutcome.CANCELLED, outcomeOf(error(code)), "code $code")
            assertEquals(BiometricOutcome.FAILED, outcomeOf(notRecognised, error(code)), "code $code after a miss")
        }
    }

    @Test
    fun `the system cancelling the prompt is Cancelled, whatever came before`() {
        assertEquals(BiometricOutcome.CANCELLED, outcomeOf(notRecognised, error(BiometricPrompt.ERROR_CANCELED)))
    }

    @Test
    fun `the platform's lockouts are LockedOut`() {
        assertEquals(BiometricOutcome.LOCKED_OUT, outcomeOf(notRecognised, error(BiometricPrompt.ERROR_LOCKOUT)))
        assertEquals(BiometricOutcome.LOCKED_OUT, outcomeOf(error(BiometricPrompt.ERROR_LOCKOUT_PERMANENT)))
    }

    @Test
    fun `no hardware, nothing enrolled, no screen lock or a pending update is Unavailable`() {
        for (code in listOf(
            BiometricPrompt.ERROR_HW_UNAVAILABLE,
            BiometricPrompt.ERROR_HW_NOT_PRESENT,
            BiometricPrompt.ERROR_NO_BIOMETRICS,
            BiometricPrompt.ERROR_NO_DEVICE_CREDENTIAL,
            BiometricPrompt.ERROR_SECURITY_UPDATE_REQUIRED,
        )) {
            assertEquals(BiometricOutcome.UNAVAILABLE, outcomeOf(error(code)), "code $code")
        }
    }

    @Test
    fun `other errors, and codes added in later Android versions, are Failed`() {
        for (code in listOf(
            BiometricPrompt.ERROR_UNABLE_TO_PROCESS,
            BiometricPrompt.ERROR_NO_SPACE,
            BiometricPrompt.ERROR_VENDOR,
            99,
        )) {
            assertEquals(BiometricOutcome.FAILED, outcomeOf(error(code)), "code $code")
        }
    }

    @Test
    fun `only the first outcome counts`() {
        assertEquals(BiometricOutcome.VERIFIED, outcomeOf(recognised, error(BiometricPrompt.ERROR_CANCELED)))
    }

    @Test
    fun `a phone without usable biometrics answers Unavailable and shows no prompt`() {
        Shadow.extract<ShadowBiometricManager>(context.getSystemService(PlatformBiometricManager::class.java))
            .setCanAuthenticate(false)
        val activity = Robolectric.buildActivity(FragmentActivity::class.java).setup().get()
        val verifier = BiometricUserVerifier(context, { activity }, pinPad = { _, _ -> error("no PIN expected") })

        assertEquals(BiometricOutcome.UNAVAILABLE, awaitWithMainLooper { verifier.verifyBiometric("Activate alice") })
        assertEquals(emptyList(), activity.supportFragmentManager.fragments)
    }

    @Test
    fun `the PIN pad is shown on the main thread over the activity in front`() {
        val activity = Robolectric.buildActivity(FragmentActivity::class.java).setup().get()
        val shown = mutableListOf<Pair<FragmentActivity, Boolean>>()
        val verifier = BiometricUserVerifier(context, { activity }, pinPad = { over, _ ->
            shown += over to (android.os.Looper.myLooper() == android.os.Looper.getMainLooper())
            PinEntry.Entered("730419".toByteArray())
        })
        val entry = awaitWithMainLooper { verifier.requestPin(PinRequest(PinPurpose.CREATE, null)) }

        assertEquals("730419", assertIs<PinEntry.Entered>(entry).pin.decodeToString())
        assertEquals(1, shown.size)
        assertSame(activity, shown.single().first)
        assertTrue(shown.single().second, "the PIN pad was not called on the main thread")
    }

    @Test
    fun `with no activity in front, or one going away, nothing is shown and the core is told`() {
        val none = BiometricUserVerifier(context, { null }, pinPad = { _, _ -> error("no PIN pad expected") })
        assertFailsWith<VerifierException.Failed> {
            awaitWithMainLooper { none.requestPin(PinRequest(PinPurpose.CONFIRM, null)) }
        }
        val finishing = Robolectric.buildActivity(FragmentActivity::class.java).setup().get().apply { finish() }
        val gone = BiometricUserVerifier(context, { finishing }, pinPad = { _, _ -> error("no PIN pad expected") })
        assertFailsWith<VerifierException.Failed> {
            awaitWithMainLooper { gone.requestPin(PinRequest(PinPurpose.CONFIRM, null)) }
        }
    }

    private companion object {
        fun successResult(): BiometricPrompt.AuthenticationResult {
            val constructor = BiometricPrompt.AuthenticationResult::class.java.declaredConstructors.single()
            constructor.isAccessible = true
            val args = constructor.parameterTypes.map { if (it == Int::class.javaPrimitiveType) 1 else null }
            return constructor.newInstance(*args.toTypedArray()) as BiometricPrompt.AuthenticationResult
        }
    }
}
