import UserNotifications

/// The core's notification doctor's view of an iOS phone, read from
/// `UNUserNotificationCenter.notificationSettings()`:
///
/// - notifications allowed: `authorizationStatus` authorized, provisional or ephemeral (not yet
///   asked counts as not allowed: nothing shows until the user is asked);
/// - login requests shown: `alertSetting` (banners and alerts on);
/// - held for the summary: `scheduledDeliverySetting` enabled;
/// - through Focus: `timeSensitiveSetting` enabled.
///
/// A setting iOS reports as not supported is unknown (nil). The Android-only settings (battery,
/// background) are nil.
extension NotificationSettings {
    /// The doctor's settings from what iOS reports.
    public init(_ settings: UNNotificationSettings) {
        self.init(
            platform: "ios",
            notificationsAllowed: Self.allowed(settings.authorizationStatus),
            channelEnabled: Self.enabled(settings.alertSetting),
            batteryOptimized: nil,
            backgroundRestricted: nil,
            deliveredInSummary: Self.enabled(settings.scheduledDeliverySetting),
            timeSensitiveAllowed: Self.enabled(settings.timeSensitiveSetting)
        )
    }

    /// The app's current settings, as `center` reports them.
    public static func current(center: UNUserNotificationCenter = .current()) async -> NotificationSettings {
        NotificationSettings(await center.notificationSettings())
    }

    /// Whether `status` lets the app's notifications show; nil for a status newer than this code.
    static func allowed(_ status: UNAuthorizationStatus) -> Bool? {
        switch status {
        case .authorized, .provisional:
            return true
        case .denied, .notDetermined:
            return false
        #if os(iOS)
        case .ephemeral:
            return true
        #endif
        @unknown default:
            return nil
        }
    }

    /// A notification setting as on, off, or unknown where iOS does not support it.
    static func enabled(_ setting: UNNotificationSetting) -> Bool? {
        switch setting {
        case .enabled:
            return true
        case .disabled:
            return false
        case .notSupported:
            return nil
        @unknown default:
            return nil
        }
    }
}
