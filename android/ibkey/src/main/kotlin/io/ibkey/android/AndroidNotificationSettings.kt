package io.ibkey.android

import android.app.ActivityManager
import android.app.NotificationManager
import android.content.Context
import android.os.PowerManager
import io.ibkey.core.NotificationSettings

/**
 * What Android says about this app's notifications, for the core's notification doctor
 * (`IbKey.checkNotifications`); [LoginNotifications.checkNotifications] reads it for its own
 * channel. Each value is null where Android cannot tell (a system service missing).
 *
 * - notifications allowed: `NotificationManager.areNotificationsEnabled()` (false on Android 13+
 *   until the user grants `POST_NOTIFICATIONS`);
 * - login channel on: the channel exists and its importance is not `IMPORTANCE_NONE` (the user
 *   can turn a single channel off; a channel never created shows nothing either);
 * - battery optimised: `PowerManager.isIgnoringBatteryOptimizations()` is false;
 * - background restricted: `ActivityManager.isBackgroundRestricted()` (API 28).
 */
object AndroidNotificationSettings {

    /** The settings of [context]'s app, with [channelId] its login notifications' channel. */
    fun read(context: Context, channelId: String): NotificationSettings {
        val notifications = context.getSystemService(NotificationManager::class.java)
        val power = context.getSystemService(PowerManager::class.java)
        val activities = context.getSystemService(ActivityManager::class.java)
        return NotificationSettings(
            platform = "android",
            notificationsAllowed = notifications?.areNotificationsEnabled(),
            channelEnabled = notifications?.let { manager ->
                manager.getNotificationChannel(channelId)?.let { it.importance != NotificationManager.IMPORTANCE_NONE }
                    ?: false
            },
            batteryOptimized = power?.let { !it.isIgnoringBatteryOptimizations(context.packageName) },
            backgroundRestricted = activities?.isBackgroundRestricted,
            deliveredInSummary = null,
            timeSensitiveAllowed = null,
        )
    }
}
