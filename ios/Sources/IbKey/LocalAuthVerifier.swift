import Foundation
import LocalAuthentication

/// The app's PIN pad: shows `request.purpose` and `request.retryReason`, returns what was typed
/// or `.cancelled`. The core decides everything about the PIN (rules, retries, lockout).
public typealias PinPad = @MainActor @Sendable (PinRequest) async -> PinEntry

/// The LocalAuthentication context of the user's last successful check, shared by
/// `LocalAuthVerifier` (which sets it) and `SecureEnclaveKeyVault` (which signs with it), so
/// that one Face ID or Touch ID check both confirms the user and unlocks the key the core
/// signs with right after, instead of the system asking a second time.
public final class AuthenticationSession: @unchecked Sendable {
    /// How long after a check its context is used for keys; the core signs within moments.
    public let reuseSeconds: TimeInterval
    private let lock = NSLock()
    private var context: LAContext?
    private var verifiedAt: TimeInterval = 0

    public init(reuseSeconds: TimeInterval = 15) {
        self.reuseSeconds = reuseSeconds
    }

    /// Records `context`, which has just passed its policy.
    func verified(_ context: LAContext) {
        lock.lock()
        defer { lock.unlock() }
        self.context?.invalidate()
        self.context = context
        verifiedAt = ProcessInfo.processInfo.systemUptime
    }

    /// The context of a check less than `reuseSeconds` ago, if any.
    func recentContext() -> LAContext? {
        lock.lock()
        defer { lock.unlock() }
        guard let context = self.context else { return nil }
        if ProcessInfo.processInfo.systemUptime - verifiedAt > reuseSeconds {
            context.invalidate()
            self.context = nil
            return nil
        }
        return context
    }
}

/// The core's `UserVerifier` on iOS: the app's `PinPad` for PINs, LocalAuthentication for
/// biometrics.
///
/// The check is Face ID or Touch ID only (`.deviceOwnerAuthenticationWithBiometrics`), the
/// same biometrics the Secure Enclave keys are bound to (`.biometryCurrentSet`); with
/// `allowPasscode` it is biometrics or the device passcode (`.deviceOwnerAuthentication`), for
/// keys made with `requireBiometry: false`.
///
/// Outcomes, from `LAError`: success is `.verified`; the user, the app or the system backing
/// out is `.cancelled`; a face or finger not recognised is `.failed`; biometrics locked after
/// too many tries is `.lockedOut`; no biometry hardware, nothing enrolled or no passcode is
/// `.unavailable`. LocalAuthentication never says that keys were invalidated: that surfaces
/// when a key is used, as `KeyError.Invalidated` from `SecureEnclaveKeyVault`. A check that
/// could not run at all (no UI allowed, an invalid context) throws `VerifierError.Failed`,
/// which the core treats as a cancel.
public final class LocalAuthVerifier: UserVerifier, @unchecked Sendable {
    private let pinPad: PinPad
    private let session: AuthenticationSession?
    private let allowPasscode: Bool

    public init(pinPad: @escaping PinPad, session: AuthenticationSession? = nil, allowPasscode: Bool = false) {
        self.pinPad = pinPad
        self.session = session
        self.allowPasscode = allowPasscode
    }

    public func requestPin(request: PinRequest) async throws -> PinEntry {
        await pinPad(request)
    }

    public func verifyBiometric(reason: String) async throws -> BiometricOutcome {
        let context = LAContext()
        let policy: LAPolicy
        if allowPasscode {
            policy = .deviceOwnerAuthentication
        } else {
            policy = .deviceOwnerAuthenticationWithBiometrics
            context.localizedFallbackTitle = "" // no "Enter Passcode": it cannot unlock the keys
        }
        var unavailable: NSError?
        guard context.canEvaluatePolicy(policy, error: &unavailable) else {
            let error: Error = unavailable ?? LAError(.biometryNotAvailable) as NSError
            return try Self.outcome(of: error)
        }
        do {
            guard try await context.evaluatePolicy(policy, localizedReason: reason) else {
                return .failed
            }
        } catch {
            return try Self.outcome(of: error)
        }
        session?.verified(context)
        return .verified
    }

    /// The outcome an `LAError` stands for; throws for a check that could not be shown.
    static func outcome(of error: Error) throws -> BiometricOutcome {
        guard let error = error as? LAError else {
            throw VerifierError.Failed(reason: error.localizedDescription)
        }
        switch error.code {
        case .userCancel, .appCancel, .systemCancel, .userFallback:
            return .cancelled
        case .authenticationFailed:
            return .failed
        case .biometryLockout:
            return .lockedOut
        case .biometryNotAvailable, .biometryNotEnrolled, .passcodeNotSet:
            return .unavailable
        default:
            // .notInteractive, .invalidContext and codes added in later systems.
            throw VerifierError.Failed(reason: "LAError \(error.code.rawValue): \(error.localizedDescription)")
        }
    }
}
