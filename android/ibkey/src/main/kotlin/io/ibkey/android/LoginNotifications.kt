package io.ibkey.android

import android.app.Activity
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.PendingIntent
import android.content.Context
import android.content.Intent
import android.util.Log
import androidx.core.app.NotificationCompat
import io.ibkey.android.common.IbKey
import io.ibkey.android.common.PUSH_CHALLENGE_KEY
import io.ibkey.android.common.PUSH_LOGIN_TYPE
import io.ibkey.android.common.PUSH_TEST_TYPE
import io.ibkey.android.common.PUSH_TYPE_KEY
import io.ibkey.android.common.ibkeyCode
import io.ibkey.core.ApprovalException
import io.ibkey.core.DoctorReport
import io.ibkey.core.LoginChallenge
import io.ibkey.core.IncomingNotification
import io.ibkey.core.NotificationSettings

/**
 * Login notifications: what the app's push service does with a message, whatever delivers it
 * (Firebase Cloud Messaging through [IbKeyMessagingService], or another gateway), and the
 * notification doctor over this app's Android settings ([checkNotifications]).
 *
 * [onMessage] hands the message's data to the core, which checks the server's signature, the
 * expiry and that the login is for a user of this device; only then is a notification posted,
 * showing who logs in to what, from where. Tapping it opens [approvalActivity] with the signed
 * challenge in [EXTRA_CHALLENGE]; the activity reads it back with [challengeFrom] and lets the
 * user match the number and approve, deny, or report it. A message that is not a valid login
 * for this device (forged, expired, for another phone) posts nothing. The doctor's test
 * notification (`type` `ibkey.test`) is noted by the core and shown on the same channel, so the
 * user sees that login requests would show.
 *
 * A lost notification never blocks a login: the app also calls `IbKey.pendingLogins()` when it
 * opens.
 */
class LoginNotifications(
    private val context: Context,
    private val ibkey: IbKey,
    private val approvalActivity: Class<out Activity>,
    /** The notification channel's id; its name and description are the two strings after it. */
    private val channelId: String = "ibkey-logins",
    private val channelName: String = "Login requests",
    private val channelDescription: String = "Logins waiting for your approval",
    /** The small icon of the notification (a monochrome drawable of the app). */
    private val smallIcon: Int = android.R.drawable.ic_lock_lock,
) {
    private val manager = context.getSystemService(NotificationManager::class.java)

    /** What became of one push message. */
    sealed interface Received {
        /** A login for a user of this device: the notification [notificationId] shows it. */
        data class Shown(val challenge: LoginChallenge, val notificationId: Int) : Received

        /**
         * The doctor's test notification arrived, [delayMs] after this phone asked for it (null
         * when another install asked); the notification [notificationId] says so.
         */
        data class TestShown(val delayMs: ULong?, val notificationId: Int) : Received

        /** Not an ibkey message: left to the app's other handlers. */
        data object NotOurs : Received

        /** An ibkey message the core refused ([error] says why); nothing is shown. */
        data class Refused(val error: ApprovalException) : Received
    }

    /** Creates the notification channel (high importance: a login waits); call it at start. */
    fun createChannel() {
        val channel = NotificationChannel(channelId, channelName, NotificationManager.IMPORTANCE_HIGH)
        channel.description = channelDescription
        manager.createNotificationChannel(channel)
    }

    /** Handles one push message's [data] (call from a background thread or coroutine). */
    suspend fun onMessage(data: Map<String, String>): Received {
        val login = data[PUSH_TYPE_KEY] == PUSH_LOGIN_TYPE && data[PUSH_CHALLENGE_KEY] != null
        if (!login && data[PUSH_TYPE_KEY] != PUSH_TEST_TYPE) return Received.NotOurs
        val read = try {
            ibkey.readNotification(data)
        } catch (e: ApprovalException) {
            Log.w(TAG, "notification refused [${e.ibkeyCode}]")
            return Received.Refused(e)
        }
        return when (read) {
            is IncomingNotification.Login -> {
                val id = read.challenge.challengeId.hashCode()
                manager.notify(id, notification(read.challenge, id))
                Received.Shown(read.challenge, id)
            }
            is IncomingNotification.Test -> {
                manager.notify(TEST_NOTIFICATION_ID, testNotification(read.delayMs))
                Received.TestShown(read.delayMs, TEST_NOTIFICATION_ID)
            }
        }
    }

    /** What Android says about this app's notifications and the login channel. */
    fun settings(): NotificationSettings = AndroidNotificationSettings.read(context, channelId)

    /**
     * Runs the core's notification doctor over this phone's [settings]; give the app's current
     * push [token][pushToken] (FCM's) to tell a stale registration.
     */
    suspend fun checkNotifications(pushToken: String? = null): DoctorReport =
        ibkey.checkNotifications(settings(), pushToken)

    /** Registers a new push [token] (from `onNewToken`) for every user of this device. */
    suspend fun onNewToken(token: String, platform: String = "fcm"): UInt =
        ibkey.registerPushToken(platform, token)

    /** Removes the notification of a login that was answered. */
    fun dismiss(challenge: LoginChallenge) = manager.cancel(challenge.challengeId.hashCode())

    private fun notification(challenge: LoginChallenge, id: Int): android.app.Notification {
        val ctx = challenge.context
        val open = Intent(context, approvalActivity)
            .putExtra(EXTRA_CHALLENGE, challenge.token)
            .addFlags(Intent.FLAG_ACTIVITY_NEW_TASK or Intent.FLAG_ACTIVITY_CLEAR_TOP)
        val pending = PendingIntent.getActivity(
            context, id, open, PendingIntent.FLAG_IMMUTABLE or PendingIntent.FLAG_UPDATE_CURRENT,
        )
        return NotificationCompat.Builder(context, channelId)
            .setSmallIcon(smallIcon)
            .setContentTitle("Log in to ${ctx.application}?")
            .setContentText("${challenge.username} · ${ctx.browser} · ${ctx.location}")
            .setCategory(NotificationCompat.CATEGORY_CALL)
            .setPriority(NotificationCompat.PRIORITY_HIGH)
            // The lock screen shows that a login waits, not for whom or from where.
            .setVisibility(NotificationCompat.VISIBILITY_PRIVATE)
            .setTimeoutAfter(challenge.secondsLeft.coerceAtLeast(0) * 1000)
            .setAutoCancel(true)
            .setContentIntent(pending)
            .build()
    }

    private fun testNotification(delayMs: ULong?): android.app.Notification {
        val took = delayMs?.let { " It took %.1f s.".format(it.toLong() / 1000.0) }.orEmpty()
        return NotificationCompat.Builder(context, channelId)
            .setSmallIcon(smallIcon)
            .setContentTitle("Test notification")
            .setContentText("Login requests will show like this.$took")
            .setCategory(NotificationCompat.CATEGORY_STATUS)
            .setPriority(NotificationCompat.PRIORITY_HIGH)
            .setAutoCancel(true)
            .build()
    }

    companion object {
        /** The intent extra holding the signed challenge the notification was for. */
        const val EXTRA_CHALLENGE = "io.ibkey.android.CHALLENGE"

        /** The id of the test notification (a new one replaces the last). */
        const val TEST_NOTIFICATION_ID = 0x1b4e7

        private const val TAG = "ibkey"

        /**
         * The login an approval activity was opened for, read again by the core (so a stale
         * or tampered intent is refused like a push), or null when the intent carries none.
         */
        suspend fun challengeFrom(ibkey: IbKey, intent: Intent?): LoginChallenge? {
            val token = intent?.getStringExtra(EXTRA_CHALLENGE) ?: return null
            return ibkey.readPush(mapOf(PUSH_CHALLENGE_KEY to token))
        }
    }
}
