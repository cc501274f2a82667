package io.ibkey.tests

import io.ibkey.android.common.ibkeyCode
import io.ibkey.android.common.verificationFailure
import io.ibkey.core.AccountsException
import io.ibkey.core.ActivationException
import io.ibkey.core.ActivationOutcome
import io.ibkey.core.BiometricOutcome
import io.ibkey.core.GateException
import io.ibkey.core.PinPurpose
import io.ibkey.core.VerificationMethod
import io.ibkey.testsupport.ReferenceServer
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance

/** PIN lockout, biometrics and removing users, through the Kotlin bindings. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GateAndAccountsTest {
    private lateinit var server: ReferenceServer

    @BeforeAll
    fun startServer() {
        server = ReferenceServer.start()
    }

    @AfterAll
    fun stopServer() = server.close()

    @Test
    fun `wrong PINs lock the PIN pad and the lockout is reported`() = runBlocking<Unit> {
        Phone(server.url, server.publicKey).use { phone ->
            assertIs<ActivationOutcome.Activated>(phone.ibkey.activateFromQr(server.ticket("grace").qrPayload))
            assertNull(phone.ibkey.pinLockout())

            // Adding a second user: the person keeps typing a wrong PIN.
            phone.user.standingPin = "9157"
            val requestsBefore = phone.user.pinRequests.size
            val ticket = server.ticket("heidi")
            val e = assertFailsWith<ActivationException.Verification> {
                phone.ibkey.activateWithSessionId(ticket.sessionId)
            }
            val lockout = assertIs<GateException.LockedOut>(e.error)
            assertTrue(lockout.remainingSecs in 1uL..30uL, "remaining ${lockout.remainingSecs}")
            assertEquals("GATE_LOCKED_OUT", e.code())
            assertEquals("GATE_LOCKED_OUT", lockout.code())
            assertEquals("Too many wrong PINs. Try again in ${lockout.remainingSecs} seconds.", e.message)
            assertEquals(lockout.message, e.message)
            assertEquals(lockout, e.verificationFailure)

            val asked = phone.user.pinRequests.drop(requestsBefore)
            assertEquals(5, asked.size, "five wrong PINs start the first delay")
            assertTrue(asked.all { it.purpose == PinPurpose.CONFIRM })
            assertEquals(
                listOf(
                    null,
                    "Wrong PIN. 4 tries left before a delay.",
                    "Wrong PIN. 3 tries left before a delay.",
                    "Wrong PIN. 2 tries left before a delay.",
                    "Wrong PIN. 1 try left before a delay.",
                ),
                asked.map { it.retryReason },
            )

            val reported = assertNotNull(phone.ibkey.pinLockout())
            assertTrue(reported.remainingSecs in 1uL..30uL)
            // The same lockout end, to the second: "until" is now (wall clock) plus what is left
            // on the boot clock, and the two clocks are read a few microseconds apart.
            assertTrue(kotlin.math.abs(lockout.untilUnixMs - reported.untilUnixMs) < 1000L)

            // While the delay runs, even the right PIN is not asked for.
            phone.user.standingPin = PIN
            val asksBefore = phone.user.pinRequests.size
            val again = assertFailsWith<ActivationException.Verification> {
                phone.ibkey.activateWithSessionId(ticket.sessionId)
            }
            assertIs<GateException.LockedOut>(again.error)
            assertEquals(asksBefore, phone.user.pinRequests.size)
            assertEquals(listOf("grace"), phone.ibkey.accounts().map { it.username })
        }
    }

    @Test
    fun `a deleted PIN record locks the accounts instead of offering a new PIN`() = runBlocking<Unit> {
        Phone(server.url, server.publicKey).use { phone ->
            assertIs<ActivationOutcome.Activated>(phone.ibkey.activateFromQr(server.ticket("ivan").qrPayload))
            // Someone with the app's files deletes the PIN record to choose a PIN of their own.
            phone.store.remove("gate")
            val asked = phone.user.pinRequests.size
            val e = assertFailsWith<ActivationException> {
                phone.ibkey.activateFromQr(server.ticket("judy").qrPayload)
            }
            assertEquals("STORE_TAMPERED", e.code())
            assertTrue(phone.user.pinRequests.drop(asked).none { it.purpose == PinPurpose.CREATE })
            assertEquals(listOf("ivan"), phone.ibkey.accounts().map { it.username })

            // The way out: reset, then activate again with a new PIN.
            assertEquals(listOf("ivan"), phone.ibkey.reset())
            assertEquals(emptyList(), phone.ibkey.accounts())
            assertIs<ActivationOutcome.Activated>(phone.ibkey.activateFromQr(server.ticket("ivan").qrPayload))
            assertEquals(PinPurpose.CREATE, phone.user.pinRequests.last().purpose)
        }
    }

    @Test
    fun `biometric verification outcomes become typed errors, then it activates`() = runBlocking<Unit> {
        Phone(server.url, server.publicKey, method = VerificationMethod.BIOMETRIC).use { phone ->
            val ticket = server.ticket("ivan")
            phone.user.answerBiometric(BiometricOutcome.FAILED, BiometricOutcome.CANCELLED, BiometricOutcome.VERIFIED)

            val failed = assertFailsWith<ActivationException.Verification> {
                phone.ibkey.activateFromQr(ticket.qrPayload)
            }
            assertIs<GateException.BiometricNotRecognised>(failed.error)
            assertEquals("GATE_BIOMETRIC_NOT_RECOGNISED", failed.ibkeyCode)

            val cancelled = assertFailsWith<ActivationException.Verification> {
                phone.ibkey.activateFromQr(ticket.qrPayload)
            }
            assertIs<GateException.Cancelled>(cancelled.verificationFailure)
            assertEquals("Verification was cancelled, so nothing was done. Start again when you are ready.", cancelled.message)

            assertIs<ActivationOutcome.Activated>(phone.ibkey.activateFromQr(ticket.qrPayload))
            assertEquals(false, phone.ibkey.hasPin(), "biometrics need no app PIN")
            assertTrue(phone.user.pinRequests.isEmpty())
        }
    }

    @Test
    fun `removing a user revokes it on the server and forgets it on the device`() = runBlocking<Unit> {
        Phone(server.url, server.publicKey).use { phone ->
            phone.ibkey.activateFromQr(server.ticket("judy").qrPayload)
            phone.ibkey.activateWithSessionId(server.ticket("mallory").sessionId)
            val judy = assertNotNull(phone.ibkey.account("judy"))
            assertTrue(judy.credentialId in server.portalCredentialIds("judy"))

            val removed = phone.ibkey.removeAccount("judy")
            assertEquals(judy, removed)
            assertEquals(listOf("mallory"), phone.ibkey.accounts().map { it.username })
            assertNull(phone.ibkey.account("judy"))
            assertTrue(judy.credentialId !in server.portalCredentialIds("judy"), "revoked on the server")
            assertTrue("key/${judy.keyAlias}" !in phone.store.keys(), "device key deleted")

            val e = assertFailsWith<AccountsException.NotFound> { phone.ibkey.removeAccount("judy") }
            assertEquals("judy", e.username)
            assertEquals("ACC_NOT_FOUND", e.code())
            assertEquals(
                "judy is not enrolled on this device. See the list of users for the names that are.",
                e.message,
            )

            // The user can be activated again afterwards.
            assertIs<ActivationOutcome.Activated>(phone.ibkey.activateFromQr(server.ticket("judy").qrPayload))
        }
    }
}
