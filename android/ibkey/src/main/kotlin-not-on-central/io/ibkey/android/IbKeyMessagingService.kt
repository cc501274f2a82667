package io.ibkey.android

import android.util.Log
import com.google.firebase.messaging.FirebaseMessagingService
import com.google.firebase.messaging.RemoteMessage
import io.ibkey.android.common.ibkeyCode
import io.ibkey.core.ApprovalException
import kotlinx.coroutines.runBlocking

/**
 * The Firebase Cloud Messaging entry point: subclass it, give it the app's
 * [LoginNotifications], and declare it in the app's manifest with the
 * `com.google.firebase.MESSAGING_EVENT` intent filter. ibkey's messages are data messages, so
 * this runs even when the app is in the background: logins (`type` = `ibkey.login`,
 * `challenge` = the signed challenge) and the notification doctor's test notification
 * (`type` = `ibkey.test`, `id`, `sent_at_ms`), both read by the core through
 * [LoginNotifications.onMessage]; other messages go to [onOtherMessage].
 *
 * Firebase calls both methods on a background thread and allows about 20 seconds, so they
 * block on the core's calls (a signature check and a store read, or one HTTPS request).
 */
abstract class IbKeyMessagingService : FirebaseMessagingService() {
    /** The app's login notifications (usually built once in the `Application`). */
    abstract val loginNotifications: LoginNotifications

    override fun onMessageReceived(message: RemoteMessage) {
        val received = runBlocking { loginNotifications.onMessage(message.data) }
        if (received is LoginNotifications.Received.NotOurs) onOtherMessage(message)
    }

    override fun onNewToken(token: String) {
        // A failure is retried when the app next opens (it registers its token again then).
        try {
            runBlocking { loginNotifications.onNewToken(token) }
        } catch (e: ApprovalException) {
            Log.w("ibkey", "push token not registered [${e.ibkeyCode}]")
        }
    }

    /** A message that is not ibkey's; the default ignores it. */
    open fun onOtherMessage(message: RemoteMessage) = Unit
}
