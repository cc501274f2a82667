package io.ibkey.android

import android.app.Activity
import android.app.Application
import android.app.NotificationManager
import android.content.Context
import androidx.fragment.app.FragmentActivity
import io.ibkey.android.common.IbKey
import io.ibkey.core.AuthenticatorConfig
import io.ibkey.core.PinEntry
import io.ibkey.core.PinRequest
import io.ibkey.core.VerificationMethod
import io.ibkey.testsupport.PushInbox
import io.ibkey.testsupport.ReferenceServer
import kotlin.test.assertEquals
import kotlin.test.assertIs
import kotlin.test.assertTrue
import org.junit.After
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf

/**
 * [LoginNotifications] over the real core and the real reference server, whose webhook push
 * sender posts to a [PushInbox] (the stand-in for FCM): what `IbKeyMessagingService` does with a
 * message, and what the user sees in the notification shade.
 */
@RunWith(RobolectricTestRunner::class)
class LoginNotificationsTest {
    private val app: Application = RuntimeEnvironment.getApplication()
    private val manager = app.getSystemService(Context.NOTIFICATION_SERVICE) as NotificationManager
    private lateinit var pushes: PushInbox
    private lateinit var server: ReferenceServer
    private lateinit var ibkey: IbKey
    private lateinit var notifications: LoginNotifications

    /** The app's approval screen (any activity will do for the intent). */
    class ApprovalScreen : Activity()

    private object TypedPin : PinPad {
        override suspend fun requestPin(activity: FragmentActivity, request: PinRequest): PinEntry =
            PinEntry.Entered("730419".toByteArray())
    }

    @Before
    fun setUp() {
        TestAndroidKeyStore.install()
        pushes = PushInbox()
        server = ReferenceServer.start(pushWebhook = pushes.url)
        val config = AuthenticatorConfig(
            serverUrl = server.url,
            serverPublicKey = server.publicKey,
            deviceName = "Robolectric phone",
            verification = VerificationMethod.PIN,
        )
        ibkey = IbKeyAndroid.create(app, config, TypedPin)
        notifications = LoginNotifications(app, ibkey, ApprovalScreen::class.java)
        notifications.createChannel()
        Robolectric.buildActivity(FragmentActivity::class.java).setup()
        val sessionId = server.ticket("alice").sessionId
        awaitWithMainLooper { ibkey.activateWithSessionId(sessionId) }
    }

    @After
    fun tearDown() {
        ibkey.diagnostics?.close()
        ibkey.close()
        server.close()
        pushes.close()
    }

    @Test
    fun `a login message shows who logs in to what, and opens the approval screen with the challenge`() {
        server.startLogin("alice")
        val data = pushes.next("alice")

        val received = awaitWithMainLooper { notifications.onMessage(data) }

        val shown = assertIs<LoginNotifications.Received.Shown>(received)
        assertEquals("alice", shown.challenge.username)
        val posted = shadowOf(manager).getNotification(shown.notificationId)
        assertEquals("Log in to Client Portal?", shadowOf(posted).contentTitle.toString())
        assertTrue(shadowOf(posted).contentText.toString().startsWith("alice · "))
        assertEquals("ibkey-logins", posted.channelId)
        val opened = shadowOf(posted.contentIntent).savedIntent
        assertEquals(ApprovalScreen::class.java.name, opened.component?.className)
        // The screen reads the login back from the intent through the core.
        val again = awaitWithMainLooper { LoginNotifications.challengeFrom(ibkey, opened) }
        assertEquals(shown.challenge.challengeId, again?.challengeId)
    }

    @Test
    fun `other messages are not ours, and a tampered login shows nothing`() {
        assertIs<LoginNotifications.Received.NotOurs>(
            awaitWithMainLooper { notifications.onMessage(mapOf("type" to "promo", "text" to "50% off")) },
        )
        server.startLogin("alice")
        val data = pushes.next("alice")
        val token = data.getValue("challenge")
        val (prefix, claims, signature) = token.split(".")
        val tampered = "$prefix.${claims.dropLast(2)}${if (claims.endsWith("A")) "B" else "A"}${claims.last()}.$signature"

        val received = awaitWithMainLooper { notifications.onMessage(data + ("challenge" to tampered)) }

        assertIs<LoginNotifications.Received.Refused>(received)
        assertEquals(0, shadowOf(manager).allNotifications.size)
    }
}
