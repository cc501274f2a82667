package io.ibkey.tests

import io.ibkey.android.common.ibkeyCode
import io.ibkey.core.ActivationException
import io.ibkey.core.ActivationOutcome
import io.ibkey.core.FoundBy
import io.ibkey.core.PinPurpose
import io.ibkey.ffi.decodeQrImage
import io.ibkey.testsupport.ReferenceServer
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance

/** Activation through the Kotlin bindings against the real reference server. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ActivationTest {
    private lateinit var server: ReferenceServer

    @BeforeAll
    fun startServer() {
        server = ReferenceServer.start()
    }

    @AfterAll
    fun stopServer() = server.close()

    private fun ActivationOutcome.activatedUser(): String =
        assertIs<ActivationOutcome.Activated>(this, "expected a fresh activation").account.username

    @Test
    fun `activates from a QR image then adds a second user by session ID`() = runBlocking<Unit> {
        Phone(server.url, server.publicKey).use { phone ->
            val payload = decodeQrImage(server.ticketQrPng("alice"))
            val request = phone.ibkey.inspectQr(payload)
            assertEquals("alice", request.username)
            assertEquals(server.url, request.serverUrl)
            assertEquals(4, request.sessionIdHint.length)

            assertEquals("alice", phone.ibkey.activateFromQr(payload).activatedUser())

            val bob = server.ticket("bob")
            assertEquals("bob", phone.ibkey.activateWithSessionId(bob.sessionId).activatedUser())

            assertEquals(listOf("alice", "bob"), phone.ibkey.accounts().map { it.username })
            assertEquals(server.url, phone.ibkey.account("bob")?.serverUrl)
            assertEquals(
                listOf(PinPurpose.CREATE, PinPurpose.CONFIRM),
                phone.user.pinRequests.map { it.purpose },
                "the PIN is chosen once, then confirmed",
            )
            assertTrue(phone.ibkey.hasPin())
        }
    }

    @Test
    fun `the same QR again is recognised and a fresh one for an enrolled user says already enrolled`() =
        runBlocking<Unit> {
            Phone(server.url, server.publicKey).use { phone ->
                val first = server.ticket("carol")
                phone.ibkey.activateFromQr(first.qrPayload).activatedUser()

                val again = phone.ibkey.activateFromQr(first.qrPayload)
                assertIs<ActivationOutcome.AlreadyActivatedWithThisCode>(again)
                assertEquals("carol", again.account.username)

                val e = assertFailsWith<ActivationException.AlreadyEnrolled> {
                    phone.ibkey.activateFromQr(server.ticket("carol").qrPayload)
                }
                assertEquals("carol", e.username)
                assertEquals(FoundBy.DEVICE, e.foundBy)
                assertEquals("ACT_ALREADY_ENROLLED", e.code())
                assertEquals(
                    "carol is already enrolled on this device. There is nothing to do: " +
                        "you can already approve logins for carol.",
                    e.message,
                )
                assertEquals(e.message, e.toString())
            }
        }

    @Test
    fun `a used code says so, by QR and by session ID`() = runBlocking<Unit> {
        Phone(server.url, server.publicKey).use { first ->
            Phone(server.url, server.publicKey).use { second ->
                val ticket = server.ticket("dave")
                first.ibkey.activateFromQr(ticket.qrPayload).activatedUser()

                val byQr = assertFailsWith<ActivationException.CodeUsed> {
                    second.ibkey.activateFromQr(ticket.qrPayload)
                }
                val bySessionId = assertFailsWith<ActivationException.CodeUsed> {
                    second.ibkey.activateWithSessionId(ticket.sessionId)
                }
                for (e in listOf(byQr, bySessionId)) {
                    assertEquals("ACT_CODE_USED", e.code())
                    assertEquals("ACT_CODE_USED", e.ibkeyCode)
                    assertEquals(
                        "This activation code was already used. Log out of the portal and back in " +
                            "to get a fresh QR code and session ID, then try again.",
                        e.message,
                    )
                }
                assertEquals(emptyList(), second.ibkey.accounts())
            }
        }
    }

    @Test
    fun `an expired code says so`() = runBlocking<Unit> {
        ReferenceServer.start(ticketLifetimeSecs = 1).use { shortLived ->
            Phone(shortLived.url, shortLived.publicKey).use { phone ->
                val ticket = shortLived.ticket("erin")
                Thread.sleep(2_200)
                val e = assertFailsWith<ActivationException.CodeExpired> {
                    phone.ibkey.activateWithSessionId(ticket.sessionId)
                }
                assertEquals("ACT_CODE_EXPIRED", e.code())
                assertEquals(
                    "This activation code has expired. Log out of the portal and back in to get a " +
                        "fresh QR code and session ID, then try again.",
                    e.message,
                )
                assertEquals(emptyList(), phone.ibkey.accounts())
            }
        }
    }

    @Test
    fun `a mistyped session ID is caught on the device with the group to check`() = runBlocking<Unit> {
        Phone(server.url, server.publicKey).use { phone ->
            val sessionId = server.ticket("frank").sessionId
            val chars = sessionId.toCharArray()
            chars[5] = if (chars[5] == 'Z') 'Y' else 'Z'
            val typo = String(chars)

            val checked = assertFailsWith<ActivationException.SessionIdMistyped> {
                phone.ibkey.checkSessionId(typo)
            }
            assertEquals(2u, checked.group)
            assertEquals("ACT_SESSION_ID_MISTYPED", checked.code())
            assertTrue(checked.message.startsWith("Group 2 of the session ID looks mistyped."), checked.message)

            val activated = assertFailsWith<ActivationException.SessionIdMistyped> {
                phone.ibkey.activateWithSessionId(typo)
            }
            assertEquals(2u, activated.group)

            val short = assertFailsWith<ActivationException.SessionIdWrongLength> {
                phone.ibkey.checkSessionId("K7QP-3MZX")
            }
            assertEquals(8u, short.found)
            assertEquals(12u, short.expected)
            assertEquals("ACT_SESSION_ID_LENGTH", short.code())

            phone.ibkey.checkSessionId(sessionId.lowercase())
        }
    }

    @Test
    fun `a plain HTTP server elsewhere is refused when the authenticator is made`() {
        val e = assertFailsWith<ActivationException.InsecureServer> {
            Phone("http://example.com", null).close()
        }
        assertEquals("http://example.com", e.url)
        assertEquals("ACT_INSECURE_SERVER", e.code())
        assertTrue(e.message.contains("Use an https:// address"), e.message)
    }
}
