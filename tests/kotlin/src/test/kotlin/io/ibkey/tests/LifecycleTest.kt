package io.ibkey.tests

import io.ibkey.android.common.ibkeyCode
import io.ibkey.core.ActivationOutcome
import io.ibkey.core.ApprovalException
import io.ibkey.core.CheckStatus
import io.ibkey.core.DoctorReport
import io.ibkey.core.IncomingNotification
import io.ibkey.core.NotificationSettings
import io.ibkey.core.PinPurpose
import io.ibkey.core.RecoveryException
import io.ibkey.protocol.Decision
import io.ibkey.testsupport.PushInbox
import io.ibkey.testsupport.ReferenceServer
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertNotNull
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance

/**
 * A phone's whole life, through the Kotlin bindings against the real reference server: moving
 * IB Key to a new phone (the portal's move code read from the server's out-of-band outbox),
 * recovering the accounts after the app's files were lost, and the notification doctor with
 * test notifications delivered through a loopback push gateway ([PushInbox]).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LifecycleTest {
    private lateinit var pushes: PushInbox
    private lateinit var server: ReferenceServer

    @BeforeAll
    fun startServer() {
        pushes = PushInbox()
        server = ReferenceServer.start(pushWebhook = pushes.url)
    }

    @AfterAll
    fun stopServer() {
        server.close()
        pushes.close()
    }

    private suspend fun Phone.enroll(user: String, on: ReferenceServer = server): Phone {
        ibkey.activateWithSessionId(on.ticket(user).sessionId)
        return this
    }

    /** The report as the sample's screen lists it, for the test's output. */
    private fun DoctorReport.printed(): String = checks.joinToString("\n", "healthy=$healthy\n") {
        "  ${it.status} ${it.id}: ${it.measured}" + if (it.fix.isEmpty()) "" else " -> ${it.fix}"
    }

    private fun DoctorReport.status(id: String): CheckStatus =
        checks.singleOrNull { it.id == id }?.status ?: error("no check $id in\n${printed()}")

    @Test
    fun `after a move to a new phone the old phone is told where it went, and the new one approves`() = runBlocking<Unit> {
        Phone(server.url, server.publicKey, deviceName = "Old Pixel 6").enroll("maya").use { old ->
            Phone(server.url, server.publicKey, deviceName = "New Pixel 9").use { new ->
                val move = server.move("maya")
                assertEquals(listOf("Old Pixel 6"), move.replaces)
                assertEquals("m••••@example.test", move.codeSentTo)

                // Scanning shows what the move replaces before anything changes.
                assertEquals(listOf("Old Pixel 6"), new.ibkey.inspectQr(move.ticket.qrPayload).replaces)
                val moved = assertIs<ActivationOutcome.Moved>(new.ibkey.activateFromQr(move.ticket.qrPayload))
                assertEquals("maya", moved.account.username)
                assertEquals(listOf("Old Pixel 6"), moved.replaced)

                // The old phone's next request is refused with the server's signed word.
                val refused = assertFailsWith<ApprovalException.Moved> { old.ibkey.pendingLogins() }
                assertEquals("maya", refused.notice.username)
                assertEquals("New Pixel 9", refused.notice.toDevice)
                assertTrue("New Pixel 9" in refused.message.orEmpty(), refused.message)
                assertEquals(emptyList(), old.ibkey.accounts())
                val notice = old.ibkey.takeMoveNotices().single()
                assertEquals("New Pixel 9", notice.toDevice)
                assertTrue(notice.message.startsWith("IB Key for maya was moved to 'New Pixel 9'"), notice.message)
                assertEquals(emptyList(), old.ibkey.takeMoveNotices(), "a notice is given once")

                val login = server.startLogin("maya")
                assertEquals(1, login.devicesNotified)
                val read = assertIs<IncomingNotification.Login>(new.ibkey.readNotification(pushes.next("maya")))
                assertEquals(Decision.APPROVE, new.ibkey.approve(read.challenge, login.number.toUByte()).decision)
                assertEquals("approved", server.loginState(login))
            }
        }
    }

    @Test
    fun `a phone that lost its app files but kept its keys recovers the account with the code sent`() =
        runBlocking<Unit> {
            val keychain = InMemorySecureStore()
            Phone(server.url, server.publicKey, keyStore = keychain).enroll("ruth").close()

            // Reinstalled: the app's store is new and empty, the keychain kept the device key.
            Phone(server.url, server.publicKey, keyStore = keychain, user = ScriptedVerifier("7305")).use { phone ->
                assertEquals(emptyList(), phone.ibkey.accounts())
                val offer = phone.ibkey.findRecoverableAccounts()
                val ruth = offer.recoverable.single()
                assertEquals("ruth", ruth.username)
                assertEquals("JVM test phone", ruth.deviceName)
                assertEquals("r••••@example.test", ruth.codeSentTo)
                assertEquals(emptyList(), offer.lost)

                val code = server.outOfBandCode("ruth")
                val wrong = (code.toInt() + 1).mod(1_000_000).toString().padStart(6, '0')
                val e = assertFailsWith<RecoveryException.CodeWrong> { phone.ibkey.recoverAccount("ruth", wrong) }
                assertEquals("REC_CODE_WRONG", e.ibkeyCode)
                val account = phone.ibkey.recoverAccount("ruth", code)
                assertEquals("ruth", account.username)
                // The old PIN went with the app's files: the user chose a new one.
                assertEquals(PinPurpose.CREATE, phone.user.pinRequests.first().purpose)
                assertEquals(listOf("ruth"), phone.ibkey.accounts().map { it.username })

                val login = server.startLogin("ruth")
                val read = assertIs<IncomingNotification.Login>(phone.ibkey.readNotification(pushes.next("ruth")))
                assertEquals(Decision.APPROVE, phone.ibkey.approve(read.challenge, login.number.toUByte()).decision)
                assertEquals("approved", server.loginState(login))
            }
        }

    @Test
    fun `a phone that lost its keys too has nothing to recover and is told to activate`() = runBlocking<Unit> {
        Phone(server.url, server.publicKey).enroll("sami").close()
        Phone(server.url, server.publicKey).use { reinstalled ->
            val e = assertFailsWith<RecoveryException.NothingToRecover> { reinstalled.ibkey.findRecoverableAccounts() }
            assertEquals("REC_NOTHING_TO_RECOVER", e.ibkeyCode)
            assertTrue("Activate IB Key again" in e.message.orEmpty(), e.message)
        }
    }

    @Test
    fun `the doctor finds a healthy phone once a test notification made the round trip`() = runBlocking<Unit> {
        Phone(server.url, server.publicKey).enroll("dora").use { phone ->
            assertEquals(1u, phone.ibkey.registerPushToken("fcm", "fcm-token-of-dora"))
            val sent = phone.ibkey.sendTestNotification()
            val data = pushes.next("dora")
            assertEquals(mapOf("type" to "ibkey.test", "id" to sent.id, "sent_at_ms" to sent.sentAtMs.toString()), data)
            // A test notification whose time is not a number is refused like any malformed message.
            assertFailsWith<ApprovalException> { phone.ibkey.readNotification(data + ("sent_at_ms" to "soon")) }
            val arrived = assertIs<IncomingNotification.Test>(phone.ibkey.readNotification(data))
            assertNotNull(arrived.delayMs, "this phone asked for it, so it knows how long it took")

            val settings = NotificationSettings(
                platform = "android",
                notificationsAllowed = true,
                channelEnabled = true,
                batteryOptimized = false,
                backgroundRestricted = false,
                deliveredInSummary = null,
                timeSensitiveAllowed = null,
            )
            val report = phone.ibkey.checkNotifications(settings, pushToken = "fcm-token-of-dora")
            println("DOCTOR healthy phone:\n${report.printed()}")
            assertTrue(report.healthy, report.printed())
            assertEquals(
                listOf(
                    "notifications_allowed", "channel_enabled", "background", "server", "clock",
                    "push_registration:dora", "push_approvals:dora", "delivery:dora", "test_notification",
                ),
                report.checks.map { it.id },
            )
            assertTrue(report.checks.all { it.status == CheckStatus.PASS && it.fix.isEmpty() }, report.printed())

            // The app's token changed since it registered: the doctor says so.
            val stale = phone.ibkey.checkNotifications(settings, pushToken = "fcm-token-rotated")
            assertEquals(CheckStatus.FAIL, stale.status("push_registration:dora"))
        }
    }

    @Test
    fun `the doctor names each thing that keeps notifications away`() = runBlocking<Unit> {
        // Its push gateway is down: every notification the server sends is refused.
        ReferenceServer.start(pushWebhook = "http://127.0.0.1:${ReferenceServer.freePort()}/push").use { broken ->
            Phone(broken.url, broken.publicKey).enroll("emil", broken).enroll("fenna", broken).use { phone ->
                broken.setLoginNotifications("fenna", enabled = false)
                broken.startLogin("emil")
                assertFailsWith<ApprovalException> { phone.ibkey.sendTestNotification() }

                val settings = NotificationSettings(
                    platform = "android",
                    notificationsAllowed = false,
                    channelEnabled = false,
                    batteryOptimized = true,
                    backgroundRestricted = false,
                    deliveredInSummary = null,
                    timeSensitiveAllowed = null,
                )
                val report = phone.ibkey.checkNotifications(settings)
                println("DOCTOR broken phone:\n${report.printed()}")
                assertFalse(report.healthy)
                for (failed in listOf(
                    "notifications_allowed", "channel_enabled", "background",
                    "push_registration:emil", "delivery:emil", "push_approvals:fenna",
                )) {
                    assertEquals(CheckStatus.FAIL, report.status(failed), "$failed in\n${report.printed()}")
                    assertTrue(report.checks.single { it.id == failed }.fix.isNotEmpty())
                }
                assertEquals(CheckStatus.PASS, report.status("server"))
                assertEquals(CheckStatus.PASS, report.status("push_approvals:emil"))
                assertEquals(CheckStatus.UNKNOWN, report.status("test_notification"))
                val delivery = report.checks.single { it.id == "delivery:emil" }
                assertTrue("refused" in delivery.measured, delivery.measured)
            }
        }
    }
}
