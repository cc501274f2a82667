package io.ibkey.android.common

import io.ibkey.core.Account
import io.ibkey.core.ActivationOutcome
import io.ibkey.core.ActivationRequest
import io.ibkey.core.AuthenticatorConfig
import io.ibkey.core.HttpTransport
import io.ibkey.core.KeyVault
import io.ibkey.core.PinLockout
import io.ibkey.core.SecureStore
import io.ibkey.core.UserVerifier
import io.ibkey.ffi.Authenticator
import io.ibkey.ffi.decodeQrImage
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext

/**
 * The app's entry point to the ibkey core: an [Authenticator] whose calls are all safe to make
 * from the main thread.
 *
 * The core runs on the thread that calls it, and its work blocks: it hashes PINs (deliberately
 * slow) and reads and writes the [SecureStore]. Every call here therefore moves to [dispatcher]
 * first. The [UserVerifier] is called from there too, so a PIN pad or biometric prompt must
 * switch to the main thread itself.
 *
 * Failures are the core's typed exceptions (`ActivationException`, `AccountsException`,
 * `GateException`, `ScanException`), each with the core's human [Throwable.message] and a stable
 * `code()`; see [ibkeyCode] and [verificationFailure].
 *
 * With [IbKeyDiagnostics], the core's log lines are recorded and the extended log traces its
 * HTTP exchanges.
 *
 * Make one per app process and [close] it when done (it frees the Rust object).
 */
class IbKey(
    config: AuthenticatorConfig,
    store: SecureStore,
    keys: KeyVault,
    verifier: UserVerifier,
    http: HttpTransport = HttpUrlConnectionTransport(),
    /** The app's diagnostics (logs, support bundles, the upload outbox), when given. */
    val diagnostics: IbKeyDiagnostics? = null,
    private val dispatcher: CoroutineDispatcher = Dispatchers.IO,
) : AutoCloseable {

    /** The underlying core object, for calls this facade does not wrap. */
    val authenticator: Authenticator =
        Authenticator(config, store, keys, verifier, http, diagnostics?.diagnostics)

    /** Activates from the text of a scanned QR code. */
    suspend fun activateFromQr(payload: String): ActivationOutcome =
        onDispatcher { authenticator.activateFromQr(payload) }

    /** Activates from a picture of the QR code (PNG or JPEG bytes: a screenshot, a photo). */
    suspend fun activateFromQrImage(image: ByteArray): ActivationOutcome =
        onDispatcher { authenticator.activateFromQr(decodeQrImage(image)) }

    /** Activates from a session ID typed by the user; typos are caught before any network call. */
    suspend fun activateWithSessionId(sessionId: String): ActivationOutcome =
        onDispatcher { authenticator.activateWithSessionId(sessionId) }

    /** Checks a scanned QR payload without activating: whom it would enroll. */
    suspend fun inspectQr(payload: String): ActivationRequest =
        onDispatcher { authenticator.inspectQr(payload) }

    /** Checks a session ID as typed (no I/O, cheap enough for every keystroke). */
    fun checkSessionId(sessionId: String) = authenticator.checkSessionId(sessionId)

    /** The users enrolled on this device, in enrollment order. */
    suspend fun accounts(): List<Account> = onDispatcher { authenticator.accounts() }

    /** The account of [username], if enrolled here. */
    suspend fun account(username: String): Account? = onDispatcher { authenticator.account(username) }

    /** Removes [username] from this device (and revokes it on the server); returns its account. */
    suspend fun removeAccount(username: String): Account =
        onDispatcher { authenticator.removeAccount(username) }

    /** The running PIN lockout, if any. */
    suspend fun pinLockout(): PinLockout? = onDispatcher { authenticator.pinLockout() }

    /** Whether an app PIN has been set on this device. */
    suspend fun hasPin(): Boolean = onDispatcher { authenticator.hasPin() }

    /** Frees the core object; calls after this fail with `IllegalStateException`. */
    override fun close() = authenticator.close()

    private suspend fun <T> onDispatcher(block: suspend () -> T): T = withContext(dispatcher) { block() }
}
