import Foundation
import UserNotifications

/// The app's entry point to the ibkey core: an `Authenticator` whose calls are all `async`, so
/// none of them runs on the main actor.
///
/// The core runs on the thread that calls it, and its work blocks: it hashes PINs (deliberately
/// slow) and reads and writes the `SecureStore`. The `UserVerifier` is called from there too;
/// `LocalAuthVerifier` brings the PIN pad to the main actor itself.
///
/// Failures are the core's typed errors (`ActivationError`, `ApprovalError`, `CodesError`, `AccountsError`, `GateError`,
/// `ScanError`, `DiagnosticsError`, `RecoveryError`, `StoreError`), each with the core's human message
/// (`localizedDescription`) and a stable `code()`; see `Error.ibkeyCode` and
/// `Error.verificationFailure`.
public final class IbKey: Sendable {
    /// The underlying core object, for calls this facade does not wrap.
    public let authenticator: Authenticator
    /// The app's diagnostics (logs, support bundles, the upload outbox), when given.
    public let diagnostics: Diagnostics?

    /// The core over the given services; with `diagnostics`, its log lines are recorded and
    /// the extended log traces its HTTP exchanges. Throws `ActivationError.InsecureServer`
    /// for a plain `http://` server that is not this device.
    public init(
        config: AuthenticatorConfig,
        store: SecureStore,
        keys: KeyVault,
        verifier: UserVerifier,
        http: HttpTransport = URLSessionTransport(),
        diagnostics: Diagnostics? = nil
    ) throws {
        authenticator = try Authenticator(
            config: config, store: store, keys: keys, verifier: verifier, http: http, diagnostics: diagnostics
        )
        self.diagnostics = diagnostics
    }

    /// The core over the phone's own services: `KeychainSecureStore`, `SecureEnclaveKeyVault`,
    /// `LocalAuthVerifier` with the app's `pinPad`, `URLSessionTransport`, and diagnostics in
    /// Application Support (support bundles go to the same server) with `OSLogSink` for log
    /// lines at `logLevel` and above (none when nil). With `VerificationMethod.biometric`
    /// the keys are bound to Face ID or Touch ID, and one check both confirms the user and
    /// unlocks the key; with `.pin` the core checks the app PIN and the keys need only an
    /// unlocked phone. Make one per app.
    public static func onDevice(
        config: AuthenticatorConfig,
        pinPad: @escaping PinPad,
        app: AppInfo,
        service: String = KeychainSecureStore.defaultService,
        logLevel: LogLevel? = .info
    ) throws -> IbKey {
        let support = try FileManager.default.url(
            for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true
        )
        let diagnostics = try Diagnostics(
            config: DiagnosticsConfig(
                dir: support.appendingPathComponent("ibkey-diagnostics").path,
                serverUrl: config.serverUrl,
                app: app
            ),
            http: URLSessionTransport(),
            sleeper: TaskSleeper()
        )
        if let logLevel {
            diagnostics.setLogSink(sink: OSLogSink(), level: logLevel)
        }
        let session = AuthenticationSession()
        let keys = SecureEnclaveKeyVault(
            tagPrefix: service + ".device.",
            requireBiometry: config.verification == .biometric,
            session: session
        )
        return try IbKey(
            config: config,
            store: KeychainSecureStore(service: service),
            keys: keys,
            verifier: LocalAuthVerifier(pinPad: pinPad, session: session),
            http: URLSessionTransport(),
            diagnostics: diagnostics
        )
    }

    /// Activates from the text of a scanned QR code.
    public func activateFromQr(_ payload: String) async throws -> ActivationOutcome {
        try await authenticator.activateFromQr(payload: payload)
    }

    /// Activates from a picture of the QR code (PNG or JPEG bytes: a screenshot, a photo).
    public func activateFromQrImage(_ image: Data) async throws -> ActivationOutcome {
        try await authenticator.activateFromQr(payload: try decodeQrImage(image: image))
    }

    /// Activates from a session ID typed by the user; typos are caught before any network call.
    public func activateWithSessionId(_ sessionId: String) async throws -> ActivationOutcome {
        try await authenticator.activateWithSessionId(sessionId: sessionId)
    }

    /// Checks a scanned QR payload without activating: whom it would enroll.
    public func inspectQr(_ payload: String) async throws -> ActivationRequest {
        try await authenticator.inspectQr(payload: payload)
    }

    /// Checks a session ID as typed (no I/O, cheap enough for every keystroke).
    public func checkSessionId(_ sessionId: String) throws {
        try authenticator.checkSessionId(sessionId: sessionId)
    }

    /// Reads a login notification's payload (`UNNotificationContent.userInfo`, or a remote
    /// notification's dictionary) whose `challenge` key holds the signed login challenge: the
    /// core checks the server's signature, the expiry and the account, and gives what to show.
    /// A payload that is not a login fails with `ApprovalError.NotALoginCode`.
    public func readPush(_ userInfo: [AnyHashable: Any]) async throws -> LoginChallenge {
        let challenge = userInfo[IbKey.pushChallengeKey] as? String ?? ""
        return try await authenticator.readPush(payload: Data(challenge.utf8))
    }

    /// Reads any notification's payload (`userInfo`): a login (`.login`, checked as `readPush`
    /// does) or the notification doctor's test notification (`.test`, its arrival noted for the
    /// doctor's round trip).
    public func readNotification(_ userInfo: [AnyHashable: Any]) async throws -> IncomingNotification {
        try await authenticator.readNotification(payload: Self.notificationPayload(userInfo))
    }

    /// Reads a delivered or tapped notification: a login, or the doctor's test notification.
    public func readNotification(_ notification: UNNotification) async throws -> IncomingNotification {
        try await readNotification(notification.request.content.userInfo)
    }

    /// The payload the core reads from a notification's `userInfo`: a login's signed challenge,
    /// or the test notification's JSON (`type`, `id`, `sent_at_ms`; a time a gateway sent as a
    /// string is made a number again).
    static func notificationPayload(_ userInfo: [AnyHashable: Any]) -> Data {
        guard userInfo[pushTypeKey] as? String == pushTestType else {
            return Data((userInfo[pushChallengeKey] as? String ?? "").utf8)
        }
        let sentAt = userInfo["sent_at_ms"] as? Int64 ?? (userInfo["sent_at_ms"] as? String).flatMap { Int64($0) }
        let test: [String: Any] = [
            pushTypeKey: pushTestType,
            "id": userInfo["id"] as? String ?? "",
            // Not a number: null, which the core refuses like any malformed message.
            "sent_at_ms": sentAt.map { NSNumber(value: $0) } ?? NSNull(),
        ]
        return (try? JSONSerialization.data(withJSONObject: test)) ?? Data()
    }

    /// Pulls the logins waiting for this device's users; call it when the app opens.
    public func pendingLogins() async throws -> [LoginChallenge] {
        try await authenticator.pendingLogins()
    }

    /// Reads the text of a login page's QR code (a scanner `FrameResult.loginCode`).
    public func readLoginQr(_ payload: String) async throws -> LoginChallenge {
        try await authenticator.readLoginQr(payload: payload)
    }

    /// Checks the number the user picked; the third wrong pick refuses the login.
    public func checkNumber(_ challenge: LoginChallenge, number: UInt8) async throws -> NumberCheck {
        try await authenticator.checkNumber(challenge: challenge, number: number)
    }

    /// Approves a login: number check, Face ID / Touch ID or PIN, then the signed decision.
    public func approve(_ challenge: LoginChallenge, number: UInt8? = nil) async throws -> ApprovalOutcome {
        try await authenticator.approve(challenge: challenge, number: number)
    }

    /// Denies a login; with `reportFraud` ("this wasn't me") it is reported and pushes pause.
    public func deny(_ challenge: LoginChallenge, reportFraud: Bool = false) async throws -> ApprovalOutcome {
        try await authenticator.deny(challenge: challenge, reportFraud: reportFraud)
    }

    /// Registers the app's APNs device token for every user of this device.
    public func registerPushToken(_ deviceToken: Data) async throws -> UInt32 {
        try await authenticator.registerPushToken(platform: "apns", token: Self.hex(deviceToken))
    }

    /// The notification doctor: the "notifications do not arrive" checklist over the phone's
    /// notification settings (`NotificationSettings.current()` unless given), what the server
    /// knows of each account, and the last test notification. Give the app's current APNs
    /// `deviceToken` to tell a stale registration.
    public func checkNotifications(
        settings: NotificationSettings? = nil,
        deviceToken: Data? = nil
    ) async throws -> DoctorReport {
        let read: NotificationSettings
        if let settings {
            read = settings
        } else {
            read = await NotificationSettings.current()
        }
        return try await authenticator.notificationDoctor(settings: read, pushToken: deviceToken.map(Self.hex))
    }

    /// Asks the server for a test notification to this phone; `readNotification` notes its
    /// arrival and the next `checkNotifications` reports the round trip.
    public func sendTestNotification() async throws -> TestNotification {
        try await authenticator.sendTestNotification()
    }

    /// A device token as the server stores it: lowercase hex.
    static func hex(_ deviceToken: Data) -> String {
        deviceToken.map { String(format: "%02x", $0) }.joined()
    }

    /// The response to the login page's challenge for `username` (Face ID / Touch ID or PIN
    /// first; no network). A mistyped challenge is caught before anything is computed.
    public func respond(_ username: String, challenge: String) async throws -> OfflineResponse {
        try await authenticator.respond(username: username, challenge: challenge)
    }

    /// The current time-based code for `username` (Face ID / Touch ID or PIN first; no network).
    public func timeCode(_ username: String) async throws -> TimeCode {
        try await authenticator.timeCode(username: username)
    }

    /// How far the phone's clock is from the server's, in seconds, once learned.
    public func clockOffsetSecs() async throws -> Int64? {
        try authenticator.clockOffsetSecs()
    }

    /// The key of a login notification's payload that holds the signed challenge.
    public static let pushChallengeKey = "challenge"

    /// The key of a notification's payload that names its kind.
    public static let pushTypeKey = "type"

    /// The kind of the notification doctor's test notification.
    public static let pushTestType = "ibkey.test"

    /// The users enrolled on this device, in enrollment order.
    public func accounts() async throws -> [Account] {
        try authenticator.accounts()
    }

    /// The account of `username`, if enrolled here.
    public func account(_ username: String) async throws -> Account? {
        try authenticator.account(username: username)
    }

    /// Removes `username` from this device (and revokes it on the server); returns its account.
    public func removeAccount(_ username: String) async throws -> Account {
        try await authenticator.removeAccount(username: username)
    }

    /// The accounts this phone forgot because their users moved IB Key to another phone, each
    /// with what to tell the user; given once, so show them when they come (at launch, and after
    /// an `ApprovalError.Moved`).
    public func takeMoveNotices() async throws -> [MoveNotice] {
        try authenticator.takeMoveNotices()
    }

    /// After the app was deleted and installed again: the accounts whose Secure Enclave keys the
    /// Keychain kept and the server offers to restore (a code goes to each such user by e-mail or
    /// SMS), and those it cannot. Throws `RecoveryError.NothingToRecover` when there is none.
    public func findRecoverableAccounts() async throws -> RecoveryOffer {
        try await authenticator.findRecoverableAccounts()
    }

    /// Restores `username` from the last `findRecoverableAccounts()` with the `code` its user
    /// received, after Face ID / Touch ID or the PIN (a new one when the old is gone).
    public func recoverAccount(_ username: String, code: String) async throws -> Account {
        try await authenticator.recoverAccount(username: username, code: code)
    }

    /// Resets this device after an error coded `STORE_TAMPERED` or `GATE_ATTEMPTS_EXHAUSTED`:
    /// revokes what it can on the server and forgets every account and the PIN. Returns the
    /// users removed, who activate again.
    public func reset() async throws -> [String] {
        try await authenticator.reset()
    }

    /// The running PIN lockout, if any.
    public func pinLockout() async throws -> PinLockout? {
        try authenticator.pinLockout()
    }

    /// Whether an app PIN has been set on this device.
    public func hasPin() async throws -> Bool {
        try authenticator.hasPin()
    }
}

public extension Error {
    /// The core's stable error code (such as `ACT_CODE_USED`) when this is one of the core's
    /// user-facing errors, else nil. For support and diagnostics; show the user
    /// `localizedDescription` instead.
    var ibkeyCode: String? {
        switch self {
        case let error as ActivationError: return error.code()
        case let error as ApprovalError: return error.code()
        case let error as CodesError: return error.code()
        case let error as OtpError: return error.code()
        case let error as AccountsError: return error.code()
        case let error as GateError: return error.code()
        case let error as StoreError: return error.code()
        case let error as ScanError: return error.code()
        case let error as DiagnosticsError: return error.code()
        case let error as RecoveryError: return error.code()
        default: return nil
        }
    }

    /// The PIN or biometric failure behind this error, if that is what it is: a `GateError`
    /// itself, or one nested in an activation, approval, codes, account or recovery error.
    var verificationFailure: GateError? {
        if let error = self as? GateError { return error }
        if case let .Verification(error)? = self as? ActivationError { return error }
        if case let .Verification(error)? = self as? ApprovalError { return error }
        if case let .Verification(error)? = self as? CodesError { return error }
        if case let .Verification(error)? = self as? AccountsError { return error }
        if case let .Verification(error)? = self as? RecoveryError { return error }
        return nil
    }
}

/// Waits between diagnostics upload retries with `Task.sleep`: no thread is blocked.
public final class TaskSleeper: Sleeper, Sendable {
    public init() {}

    public func sleep(millis: UInt64) async throws {
        try await Task.sleep(nanoseconds: millis * 1_000_000)
    }
}
