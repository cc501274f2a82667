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
import io.ibkey.android.common.ibkeyCode
import io.ibkey.core.ApprovalException
import io.ibkey.core.LoginChallenge

/**
 * Login notifications: what the app's push service does with a message, whatever delivers it
 * (Firebase Cloud Messaging through [IbKeyMessagingService], or another gateway).
 *
 * [onMessage] hands the message's data to the core, which checks the server's signature, the
 * expiry and that the login is for a user of this device; only then is a notification posted,
 * showing who logs in to what, from where. Tapping it opens [approvalActivity] with the signed
 * challenge in [EXTRA_CHALLENGE]; the activity reads it back with [challengeFrom] and lets the
 * user match the number and approve, deny, or report it. A message that is not a valid login
 * for this device (forged, expired, for another phone) posts nothing.
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

        /** Not an ibkey login message: left to the app's other handlers. */
        data object NotOurs : Received

        /** An ibkey login message the core refused ([error] says why); nothing is shown. */
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
        if (data[PUSH_TYPE_KEY] != PUSH_LOGIN_TYPE || data[PUSH_CHALLENGE_KEY] == null) return Received.NotOurs
        val challenge = try {
            ibkey.readPush(data)
        } catch (e: ApprovalException) {
            Log.w(TAG, "login notification refused [${e.ibkeyCode}]")
            return Received.Refused(e)
        }
        val id = challenge.challengeId.hashCode()
        manager.notify(id, notification(challenge, id))
        return Received.Shown(challenge, id)
    }

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

    companion object {
        /** The intent extra holding the signed challenge the notification was for. */
        const val EXTRA_CHALLENGE = "io.ibkey.android.CHALLENGE"

        /** The push data key naming the kind of message. */
        const val PUSH_TYPE_KEY = "type"

        /** The kind of a login message. */
        const val PUSH_LOGIN_TYPE = "ibkey.login"

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
