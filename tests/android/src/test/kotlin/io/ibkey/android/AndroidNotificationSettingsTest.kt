package io.ibkey.android

import android.app.ActivityManager
import android.app.Application
import android.app.NotificationChannel
import android.app.NotificationManager
import android.content.Context
import android.os.PowerManager
import io.ibkey.core.NotificationSettings
import kotlin.test.assertEquals
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf

/**
 * [AndroidNotificationSettings] reads what the doctor needs from Android's own services
 * (Robolectric's NotificationManager, PowerManager and ActivityManager, set as the user would
 * in Settings).
 */
@RunWith(RobolectricTestRunner::class)
class AndroidNotificationSettingsTest {
    private val app: Application = RuntimeEnvironment.getApplication()
    private val notifications = app.getSystemService(Context.NOTIFICATION_SERVICE) as NotificationManager
    private val power = app.getSystemService(Context.POWER_SERVICE) as PowerManager
    private val activities = app.getSystemService(Context.ACTIVITY_SERVICE) as ActivityManager

    @Before
    fun setUp() {
        notifications.createNotificationChannel(
            NotificationChannel(CHANNEL, "Login requests", NotificationManager.IMPORTANCE_HIGH),
        )
    }

    private fun read() = AndroidNotificationSettings.read(app, CHANNEL)

    @Test
    fun `a phone set up for notifications reads as such`() {
        shadowOf(notifications).setNotificationsEnabled(true)
        shadowOf(power).setIgnoringBatteryOptimizations(app.packageName, true)
        shadowOf(activities).setBackgroundRestricted(false)
        assertEquals(
            NotificationSettings(
                platform = "android",
                notificationsAllowed = true,
                channelEnabled = true,
                batteryOptimized = false,
                backgroundRestricted = false,
                deliveredInSummary = null,
                timeSensitiveAllowed = null,
            ),
            read(),
        )
    }

    @Test
    fun `notifications turned off for the app, battery optimised and background restricted`() {
        shadowOf(notifications).setNotificationsEnabled(false)
        shadowOf(power).setIgnoringBatteryOptimizations(app.packageName, false)
        shadowOf(activities).setBackgroundRestricted(true)
        val settings = read()
        assertEquals(false, settings.notificationsAllowed)
        assertEquals(true, settings.batteryOptimized)
        assertEquals(true, settings.backgroundRestricted)
    }

    @Test
    fun `the login channel turned off, or never made, is not enabled`() {
        notifications.createNotificationChannel(
            NotificationChannel("silenced", "Login requests", NotificationManager.IMPORTANCE_NONE),
        )
        assertEquals(false, AndroidNotificationSettings.read(app, "silenced").channelEnabled)
        assertEquals(false, AndroidNotificationSettings.read(app, "never-created").channelEnabled)
        notifications.createNotificationChannel(
            NotificationChannel("quiet", "Login requests", NotificationManager.IMPORTANCE_LOW),
        )
        assertEquals(true, AndroidNotificationSettings.read(app, "quiet").channelEnabled)
    }

    private companion object {
        const val CHANNEL = "ibkey-logins"
    }
}
