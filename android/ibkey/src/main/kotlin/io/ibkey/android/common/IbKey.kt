package io.ibkey.android.common

import io.ibkey.core.Account
import io.ibkey.core.ActivationOutcome
import io.ibkey.core.ActivationRequest
import io.ibkey.core.ApprovalOutcome
import io.ibkey.core.AuthenticatorConfig
import io.ibkey.core.DoctorReport
import io.ibkey.core.HttpTransport
import io.ibkey.core.KeyVault
import io.ibkey.core.LoginChallenge
import io.ibkey.core.MoveNotice
import io.ibkey.core.IncomingNotification
import io.ibkey.core.NotificationSettings
import io.ibkey.core.NumberCheck
import io.ibkey.core.OfflineResponse
import io.ibkey.core.PinLockout
import io.ibkey.core.RecoveryOffer
import io.ibkey.core.SecureStore
import io.ibkey.core.TestNotification
import io.ibkey.core.TimeCode
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
 * Failures are the core's typed exceptions (`ActivationException`, `ApprovalException`,
 * `CodesException`, `AccountsException`, `GateException`, `ScanException`,
 * `RecoveryException`, `StoreException`), each with the core's human [Throwable.message] and a stable
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

    /**
     * Reads a login notification: [data] is the push message's data (an FCM data map, an APNs
     * payload's custom keys) whose `challenge` is the signed login challenge. Gives what to
     * show the user; a message that is not a login fails with `ApprovalException.NotALoginCode`.
     */
    suspend fun readPush(data: Map<String, String>): LoginChallenge =
        onDispatcher { authenticator.readPush(data[PUSH_CHALLENGE_KEY].orEmpty().encodeToByteArray()) }

    /**
     * Reads any notification's [data] (an FCM data map): a login, checked as [readPush] does
     * (`IncomingNotification.Login`), or the notification doctor's test notification
     * (`IncomingNotification.Test`, its arrival noted for the doctor's round trip).
     */
    suspend fun readNotification(data: Map<String, String>): IncomingNotification =
        onDispatcher { authenticator.readNotification(notificationPayload(data)) }

    /** Pulls the logins waiting for this device's users; call it when the app opens. */
    suspend fun pendingLogins(): List<LoginChallenge> = onDispatcher { authenticator.pendingLogins() }

    /** Reads the text of a login page's QR code (a scanner `FrameResult.LoginCode`). */
    suspend fun readLoginQr(payload: String): LoginChallenge =
        onDispatcher { authenticator.readLoginQr(payload) }

    /** Checks the number the user picked; the third wrong pick refuses the login. */
    suspend fun checkNumber(challenge: LoginChallenge, number: UByte): NumberCheck =
        onDispatcher { authenticator.checkNumber(challenge, number) }

    /** Approves a login: number check, PIN or biometrics, then the signed decision. */
    suspend fun approve(challenge: LoginChallenge, number: UByte? = null): ApprovalOutcome =
        onDispatcher { authenticator.approve(challenge, number) }

    /** Denies a login; with [reportFraud] ("this wasn't me") it is reported and pushes pause. */
    suspend fun deny(challenge: LoginChallenge, reportFraud: Boolean = false): ApprovalOutcome =
        onDispatcher { authenticator.deny(challenge, reportFraud) }

    /** Registers the app's push token (`fcm` or `apns`) for every user of this device. */
    suspend fun registerPushToken(platform: String, token: String): UInt =
        onDispatcher { authenticator.registerPushToken(platform, token) }

    /**
     * The notification doctor: the "notifications do not arrive" checklist over the phone's
     * [settings] (what the platform says), what the server knows of each account and the last
     * test notification. Give the app's current push [token][pushToken] to tell a stale
     * registration.
     */
    suspend fun checkNotifications(settings: NotificationSettings, pushToken: String? = null): DoctorReport =
        onDispatcher { authenticator.notificationDoctor(settings, pushToken) }

    /**
     * Asks the server for a test notification to this phone; [readNotification] notes its
     * arrival and the next [checkNotifications] reports the round trip.
     */
    suspend fun sendTestNotification(): TestNotification = onDispatcher { authenticator.sendTestNotification() }

    /** The response to the login page's challenge for [username] (PIN first; no network). */
    suspend fun respond(username: String, challenge: String): OfflineResponse =
        onDispatcher { authenticator.respond(username, challenge) }

    /** The current time-based code for [username] (PIN first; no network). */
    suspend fun timeCode(username: String): TimeCode = onDispatcher { authenticator.timeCode(username) }

    /** How far the phone's clock is from the server's, in seconds, once learned. */
    suspend fun clockOffsetSecs(): Long? = onDispatcher { authenticator.clockOffsetSecs() }

    /** The users enrolled on this device, in enrollment order. */
    suspend fun accounts(): List<Account> = onDispatcher { authenticator.accounts() }

    /** The account of [username], if enrolled here. */
    suspend fun account(username: String): Account? = onDispatcher { authenticator.account(username) }

    /** Removes [username] from this device (and revokes it on the server); returns its account. */
    suspend fun removeAccount(username: String): Account =
        onDispatcher { authenticator.removeAccount(username) }

    /**
     * The accounts this phone forgot because their users moved IB Key to another phone, each
     * with what to tell the user; given once, so show them when they come (at start, and after
     * an `ApprovalException.Moved`).
     */
    suspend fun takeMoveNotices(): List<MoveNotice> = onDispatcher { authenticator.takeMoveNotices() }

    /**
     * After a reinstall or lost app data: the accounts whose device keys the phone kept and the
     * server offers to restore (a code goes to each such user by e-mail or SMS), and those it
     * cannot. Fails with `RecoveryException.NothingToRecover` when there is nothing to restore.
     */
    suspend fun findRecoverableAccounts(): RecoveryOffer = onDispatcher { authenticator.findRecoverableAccounts() }

    /**
     * Restores [username] from the last [findRecoverableAccounts] with the [code] its user
     * received, after the PIN (a new one when the old is gone) or biometrics.
     */
    suspend fun recoverAccount(username: String, code: String): Account =
        onDispatcher { authenticator.recoverAccount(username, code) }

    /**
     * Resets this device after an error coded `STORE_TAMPERED` or `GATE_ATTEMPTS_EXHAUSTED`:
     * revokes what it can on the server and forgets every account and the PIN. Returns the
     * users removed, who activate again.
     */
    suspend fun reset(): List<String> = onDispatcher { authenticator.reset() }

    /** The running PIN lockout, if any. */
    suspend fun pinLockout(): PinLockout? = onDispatcher { authenticator.pinLockout() }

    /** Whether an app PIN has been set on this device. */
    suspend fun hasPin(): Boolean = onDispatcher { authenticator.hasPin() }

    /** Frees the core object; calls after this fail with `IllegalStateException`. */
    override fun close() = authenticator.close()

    private suspend fun <T> onDispatcher(block: suspend () -> T): T = withContext(dispatcher) { block() }
}

/** The key of a login notification's data that holds the signed challenge. */
const val PUSH_CHALLENGE_KEY = "challenge"

/** The key of a notification's data that names its kind. */
const val PUSH_TYPE_KEY = "type"

/** The kind of a login notification. */
const val PUSH_LOGIN_TYPE = "ibkey.login"

/** The kind of the notification doctor's test notification. */
const val PUSH_TEST_TYPE = "ibkey.test"

/**
 * The payload the core reads from a notification's [data]. Push services hand data over as
 * strings (an FCM data map holds nothing else), so a test notification's JSON is put back
 * together with its time as a number again; a login's payload is its signed challenge.
 */
internal fun notificationPayload(data: Map<String, String>): ByteArray {
    if (data[PUSH_TYPE_KEY] != PUSH_TEST_TYPE) return data[PUSH_CHALLENGE_KEY].orEmpty().encodeToByteArray()
    // Not a number: JSON null, which the core refuses like any malformed message.
    val sentAt = data["sent_at_ms"]?.takeIf { it.isNotEmpty() && it.all(Char::isDigit) } ?: "null"
    val id = jsonString(data["id"].orEmpty())
    return """{"type":"$PUSH_TEST_TYPE","id":$id,"sent_at_ms":$sentAt}""".encodeToByteArray()
}

/** [value] as a JSON string literal. */
private fun jsonString(value: String): String = buildString {
    append('"')
    for (c in value) {
        when {
            c == '"' || c == '\\' -> append('\\').append(c)
            c < ' ' -> append("\\u%04x".format(c.code))
            else -> append(c)
        }
    }
    append('"')
}
