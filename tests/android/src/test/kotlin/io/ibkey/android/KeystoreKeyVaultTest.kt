package io.ibkey.android

import android.content.Context
import android.content.pm.PackageManager
import android.security.keystore.KeyProperties
import io.ibkey.core.KeyException
import java.io.File
import java.math.BigInteger
import java.security.KeyFactory
import java.security.Signature
import java.security.interfaces.ECPublicKey
import java.security.spec.ECPoint
import java.security.spec.ECPublicKeySpec
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue
import org.junit.After
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf

/**
 * [KeystoreKeyVault] over the software "AndroidKeyStore": the public key the server gets
 * verifies the signatures the device makes, keys ask for StrongBox where the phone has one and
 * fall back to the TEE, biometric binding is what the README promises, the keys are listed
 * with their public keys (what survives a reinstall), and the Keystore's failures reach the
 * core as the right `KeyException`.
 */
@RunWith(RobolectricTestRunner::class)
class KeystoreKeyVaultTest {
    private val context: Context = RuntimeEnvironment.getApplication()

    @Before
    fun setUp() = TestAndroidKeyStore.install()

    @After
    fun tearDown() = TestAndroidKeyStore.uninstall()

    @Test
    fun `the SEC1 public key verifies the DER signatures the device makes`() {
        val vault = KeystoreKeyVault(context)
        val sec1 = vault.createKey("alice")
        assertEquals(65, sec1.size)
        assertEquals(0x04, sec1[0].toInt())

        val message = "enroll alice on this device".toByteArray()
        val signature = vault.sign("alice", message)
        val verifier = Signature.getInstance("SHA256withECDSA").apply { initVerify(publicKeyOf(sec1)) }
        verifier.update(message)
        assertTrue(verifier.verify(signature), "signature does not verify under the returned key")
        verifier.initVerify(publicKeyOf(sec1))
        verifier.update("enroll mallory".toByteArray())
        assertFalse(verifier.verify(signature))
        // Kept under the prefixed alias, as a P-256 signing key with SHA-256.
        val spec = TestAndroidKeyStore.specs.single()
        assertEquals("io.ibkey.device.alice", spec.keystoreAlias)
        assertEquals(KeyProperties.PURPOSE_SIGN, spec.purposes)
        assertTrue(spec.isDigestsSpecified && spec.digests.contentEquals(arrayOf(KeyProperties.DIGEST_SHA256)))
    }

    @Test
    fun `a second key under the same alias is refused, the first kept`() {
        val vault = KeystoreKeyVault(context)
        val first = vault.createKey("alice")
        assertFailsWith<KeyException.Failed> { vault.createKey("alice") }
        val signature = vault.sign("alice", byteArrayOf(1))
        val verifier = Signature.getInstance("SHA256withECDSA").apply { initVerify(publicKeyOf(first)) }
        verifier.update(byteArrayOf(1))
        assertTrue(verifier.verify(signature))
    }

    @Test
    fun `a deleted or never-made key is NotFound, and deleting twice is fine`() {
        val vault = KeystoreKeyVault(context)
        vault.createKey("bob")
        vault.deleteKey("bob")
        vault.deleteKey("bob")
        assertFailsWith<KeyException.NotFound> { vault.sign("bob", byteArrayOf(1)) }
        assertFailsWith<KeyException.NotFound> { vault.sign("carol", byteArrayOf(1)) }
        assertFalse(TestAndroidKeyStore.entries.containsKey("io.ibkey.device.bob"))
    }

    @Test
    fun `every device key is listed with the public key it was made with, and nothing else`() {
        val vault = KeystoreKeyVault(context)
        val alice = vault.createKey("alice")
        val bob = vault.createKey("bob")
        // Other Keystore entries of the app: another vault's key, the store's AES key.
        KeystoreKeyVault(context, aliasPrefix = "com.example.other.").createKey("carol")
        KeystoreSecureStore(File(context.noBackupFilesDir, "ibkey-test")).save("gate/pin", byteArrayOf(1))

        // A new vault, as in the app started again after a reinstall.
        val listed = KeystoreKeyVault(context).listKeys().associate { it.alias to it.publicKey }
        assertEquals(setOf("alice", "bob"), listed.keys)
        assertContentEquals(alice, listed["alice"])
        assertContentEquals(bob, listed["bob"])

        vault.deleteKey("alice")
        assertEquals(listOf("bob"), vault.listKeys().map { it.alias })
        context.noBackupFilesDir.deleteRecursively()
    }

    @Test
    fun `a Keystore without device keys lists none`() {
        assertEquals(emptyList(), KeystoreKeyVault(context).listKeys())
    }

    @Test
    fun `no StrongBox on the phone, the key is made in the TEE without trying StrongBox`() {
        KeystoreKeyVault(context).createKey("alice")
        assertEquals(listOf(false), TestAndroidKeyStore.specs.map { it.isStrongBoxBacked })
    }

    @Test
    fun `a phone with StrongBox gets its key there`() {
        shadowOf(context.packageManager).setSystemFeature(PackageManager.FEATURE_STRONGBOX_KEYSTORE, true)
        TestAndroidKeyStore.strongBox = true
        KeystoreKeyVault(context).createKey("alice")
        assertEquals(listOf(true), TestAndroidKeyStore.specs.map { it.isStrongBoxBacked })
    }

    @Test
    fun `a StrongBox that refuses the key, the key is made in the TEE instead`() {
        shadowOf(context.packageManager).setSystemFeature(PackageManager.FEATURE_STRONGBOX_KEYSTORE, true)
        TestAndroidKeyStore.strongBox = false // the feature is listed, the StrongBox says no
        val vault = KeystoreKeyVault(context)
        vault.createKey("alice")
        assertEquals(listOf(true, false), TestAndroidKeyStore.specs.map { it.isStrongBoxBacked })
        vault.sign("alice", byteArrayOf(1))
    }

    @Test
    fun `PIN method, keys are not bound to the screen lock`() {
        KeystoreKeyVault(context, authentication = null).createKey("alice")
        assertFalse(TestAndroidKeyStore.specs.single().isUserAuthenticationRequired)
    }

    @Test
    fun `biometric method, Class 3 biometrics for 15 s, invalidated by a new enrollment`() {
        KeystoreKeyVault(context, KeyAuthentication()).createKey("alice")
        val spec = TestAndroidKeyStore.specs.single()
        assertTrue(spec.isUserAuthenticationRequired)
        assertEquals(15, spec.userAuthenticationValidityDurationSeconds)
        assertEquals(KeyProperties.AUTH_BIOMETRIC_STRONG, spec.userAuthenticationType)
        assertTrue(spec.isInvalidatedByBiometricEnrollment)
    }

    @Test
    fun `biometric method with the screen lock allowed, either unlocks the key`() {
        KeystoreKeyVault(context, KeyAuthentication(validitySeconds = 30, allowDeviceCredential = true)).createKey("a")
        val spec = TestAndroidKeyStore.specs.single()
        assertEquals(30, spec.userAuthenticationValidityDurationSeconds)
        assertEquals(
            KeyProperties.AUTH_BIOMETRIC_STRONG or KeyProperties.AUTH_DEVICE_CREDENTIAL,
            spec.userAuthenticationType,
        )
    }

    @Test
    fun `a key invalidated by a biometric change is KeyException Invalidated`() {
        val vault = KeystoreKeyVault(context, KeyAuthentication())
        vault.createKey("alice")
        TestAndroidKeyStore.invalidated += "io.ibkey.device.alice"
        assertFailsWith<KeyException.Invalidated> { vault.sign("alice", byteArrayOf(1)) }
    }

    @Test
    fun `a key used after its authentication window says so`() {
        val vault = KeystoreKeyVault(context, KeyAuthentication())
        vault.createKey("alice")
        TestAndroidKeyStore.authenticationExpired += "io.ibkey.device.alice"
        val e = assertFailsWith<KeyException.Failed> { vault.sign("alice", byteArrayOf(1)) }
        assertTrue("not confirmed with biometrics" in e.message.orEmpty(), e.message)
    }

    private fun publicKeyOf(sec1: ByteArray): ECPublicKey {
        val params = (TestAndroidKeyStore.entries.values.first { it is TestAndroidKeyStore.KeystorePrivateKey }
            as TestAndroidKeyStore.KeystorePrivateKey).params
        val point = ECPoint(BigInteger(1, sec1.copyOfRange(1, 33)), BigInteger(1, sec1.copyOfRange(33, 65)))
        return KeyFactory.getInstance("EC").generatePublic(ECPublicKeySpec(point, params)) as ECPublicKey
    }
}
