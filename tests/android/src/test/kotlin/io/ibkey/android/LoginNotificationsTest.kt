package io.ibkey.android

import android.app.Activity
import android.app.Application
import android.app.NotificationManager
import android.content.Context
import android.os.PowerManager
import androidx.fragment.app.FragmentActivity
import io.ibkey.android.common.IbKey
import io.ibkey.core.AuthenticatorConfig
import io.ibkey.core.CheckStatus
import io.ibkey.core.PinEntry
import io.ibkey.core.PinRequest
import io.ibkey.core.VerificationMethod
import io.ibkey.testsupport.PushInbox
import io.ibkey.testsupport.ReferenceServer
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertNotNull
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
 * message, what the user sees in the notification shade, and the notification doctor over this
 * phone's settings.
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

    @Test
    fun `a test notification shows on the login channel, and the doctor reads the phone's settings`() {
        shadowOf(manager).setNotificationsEnabled(true)
        shadowOf(app.getSystemService(PowerManager::class.java)).setIgnoringBatteryOptimizations(app.packageName, true)
        awaitWithMainLooper { notifications.onNewToken("fcm-token-1") }
        awaitWithMainLooper { ibkey.sendTestNotification() }

        val received = awaitWithMainLooper { notifications.onMessage(pushes.next("alice")) }

        val shown = assertIs<LoginNotifications.Received.TestShown>(received)
        assertNotNull(shown.delayMs)
        val posted = shadowOf(manager).getNotification(shown.notificationId)
        assertEquals("Test notification", shadowOf(posted).contentTitle.toString())
        assertEquals("ibkey-logins", posted.channelId)
        val report = awaitWithMainLooper { notifications.checkNotifications(pushToken = "fcm-token-1") }
        assertTrue(report.healthy, report.checks.joinToString { "${it.id}=${it.status}: ${it.measured}" })
        // Android's checks: battery and background limits, no iOS Focus.
        assertEquals(listOf("background"), report.checks.map { it.id }.filter { it == "background" || it == "focus" })

        // The user turns notifications off for the app: the next check says so.
        shadowOf(manager).setNotificationsEnabled(false)
        val off = awaitWithMainLooper { notifications.checkNotifications(pushToken = "fcm-token-1") }
        assertFalse(off.healthy)
        assertEquals(CheckStatus.FAIL, off.checks.single { it.id == "notifications_allowed" }.status)
    }
}
