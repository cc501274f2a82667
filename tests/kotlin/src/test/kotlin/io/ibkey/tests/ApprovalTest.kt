package io.ibkey.tests

import io.ibkey.android.common.ibkeyCode
import io.ibkey.core.ApprovalException
import io.ibkey.core.ChallengeSource
import io.ibkey.core.LoginChallenge
import io.ibkey.core.NumberCheck
import io.ibkey.protocol.Decision
import io.ibkey.testsupport.LoginPage
import io.ibkey.testsupport.PushInbox
import io.ibkey.testsupport.ReferenceServer
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance

/**
 * Login approval through the Kotlin bindings against the real reference server, whose login
 * notifications go to a push gateway on loopback ([PushInbox]): what the phone gets from FCM.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ApprovalTest {
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

    /** A phone with [user] enrolled. */
    private suspend fun enrolledPhone(user: String, on: ReferenceServer = server): Phone {
        val phone = Phone(on.url, on.publicKey)
        phone.ibkey.activateWithSessionId(on.ticket(user).sessionId)
        return phone
    }

    private fun LoginChallenge.wrongNumber(login: LoginPage): UByte =
        numberChoices.map { it.toUByte() }.first { it.toInt() != login.number }

    @Test
    fun `a pushed login is approved after matching the number`() = runBlocking<Unit> {
        enrolledPhone("kate").use { phone ->
            val login = server.startLogin("kate")
            assertEquals(1, login.devicesNotified)
            val challenge = phone.ibkey.readPush(pushes.next("kate"))
            assertEquals("kate", challenge.username)
            assertEquals(ChallengeSource.PUSH, challenge.source)
            assertEquals("Client Portal", challenge.context.application)
            assertEquals("this computer", challenge.context.location)
            assertEquals(3, challenge.numberChoices.size)
            assertTrue(login.number in challenge.numberChoices.map { it.toInt() })
            assertTrue(challenge.secondsLeft in 1..120, "seconds left: ${challenge.secondsLeft}")

            val outcome = phone.ibkey.approve(challenge, login.number.toUByte())
            assertEquals(Decision.APPROVE, outcome.decision)
            assertEquals("approved", server.loginState(login))

            // The same notification delivered again is recognised, not answered twice.
            val e = assertFailsWith<ApprovalException.AlreadyAnswered> { phone.ibkey.approve(challenge, login.number.toUByte()) }
            assertEquals("APR_ALREADY_ANSWERED", e.ibkeyCode)
        }
    }

    @Test
    fun `a login pulled when the app opens can be denied and reported, which pauses notifications`() =
        runBlocking<Unit> {
            enrolledPhone("liam").use { phone ->
                val login = server.startLogin("liam")
                pushes.next("liam")
                val waiting = phone.ibkey.pendingLogins().single { it.username == "liam" }
                assertEquals(ChallengeSource.PULL, waiting.source)

                val outcome = phone.ibkey.deny(waiting, reportFraud = true)
                assertEquals(Decision.REPORT_FRAUD, outcome.decision)
                assertEquals("reported_fraud", server.loginState(login))

                val next = server.startLogin("liam")
                assertNotNull(next.pushesMutedUntil, "notifications paused after the report")
                assertEquals(0, next.devicesNotified)
                assertEquals(emptyList(), phone.ibkey.pendingLogins().filter { it.username == "liam" })
            }
        }

    @Test
    fun `three wrong numbers refuse the login and tell the server`() = runBlocking<Unit> {
        enrolledPhone("mia").use { phone ->
            val login = server.startLogin("mia")
            val challenge = phone.ibkey.readPush(pushes.next("mia"))
            val wrong = challenge.wrongNumber(login)

            assertEquals(NumberCheck.Wrong(2u), phone.ibkey.checkNumber(challenge, wrong))
            val second = assertFailsWith<ApprovalException.WrongNumber> { phone.ibkey.approve(challenge, wrong) }
            assertEquals(1u, second.attemptsLeft)
            assertTrue(second.message!!.contains("this wasn't me", ignoreCase = true), second.message)
            assertFailsWith<ApprovalException.NumberMismatchRefused> { phone.ibkey.checkNumber(challenge, wrong) }
            assertEquals("wrong_number", server.loginState(login))
        }
    }

    @Test
    fun `an expired login says to ask for a new one`() = runBlocking<Unit> {
        ReferenceServer.start(challengeLifetimeSecs = 1).use { shortLived ->
            enrolledPhone("noah", shortLived).use { phone ->
                val login = shortLived.startLogin("noah")
                val challenge = phone.ibkey.pendingLogins().single()
                Thread.sleep(2_200)
                val e = assertFailsWith<ApprovalException.ChallengeExpired> {
                    phone.ibkey.approve(challenge, login.number.toUByte())
                }
                assertEquals("APR_CHALLENGE_EXPIRED", e.code())
                assertTrue(e.message!!.contains("new login"), e.message)
                assertEquals("expired", shortLived.loginState(login))
            }
        }
    }

    @Test
    fun `a login QR code is read and approved without a number`() = runBlocking<Unit> {
        enrolledPhone("olga").use { phone ->
            val login = server.startLogin("olga")
            pushes.next("olga")
            val challenge = phone.ibkey.readLoginQr(server.loginQr(login))
            assertEquals(ChallengeSource.QR_CODE, challenge.source)
            assertEquals(0, challenge.numberChoices.size)
            assertEquals(Decision.APPROVE, phone.ibkey.approve(challenge).decision)
            assertEquals("approved", server.loginState(login))
        }
    }

    @Test
    fun `a login for a user who is not on this phone is refused`() = runBlocking<Unit> {
        enrolledPhone("piet").use { other ->
            Phone(server.url, server.publicKey).use { empty ->
                server.startLogin("piet")
                val data = pushes.next("piet")
                val e = assertFailsWith<ApprovalException> { empty.ibkey.readPush(data) }
                assertTrue(
                    e is ApprovalException.UnknownAccount || e is ApprovalException.OtherDevice,
                    "got ${e.ibkeyCode}",
                )
                assertNull(empty.ibkey.accounts().firstOrNull())
                assertEquals("piet", other.ibkey.readPush(data).username)
            }
        }
    }
}
