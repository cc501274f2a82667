package io.ibkey.android

import android.app.Application
import android.os.Looper
import android.util.Log
import androidx.fragment.app.FragmentActivity
import io.ibkey.android.common.IbKey
import io.ibkey.android.common.ibkeyCode
import io.ibkey.android.common.verificationFailure
import io.ibkey.core.ActivationOutcome
import io.ibkey.core.AuthenticatorConfig
import io.ibkey.core.BundleRequest
import io.ibkey.core.PinEntry
import io.ibkey.core.PinPurpose
import io.ibkey.core.PinRequest
import io.ibkey.core.VerificationMethod
import io.ibkey.testsupport.ReferenceServer
import java.io.File
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertSame
import kotlin.test.assertTrue
import org.junit.After
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.shadows.ShadowBuild
import org.robolectric.shadows.ShadowLog

/**
 * [IbKeyAndroid]'s wiring, through the real core (libibkey_ffi.so over JNA) and, for the
 * activation, the real reference server: what the app's `Application.onCreate` gets.
 */
@RunWith(RobolectricTestRunner::class)
class IbKeyAndroidTest {
    private val app: Application = RuntimeEnvironment.getApplication()
    private val opened = mutableListOf<IbKey>()

    /** The app's PIN pad: records where and why it was shown, and types [pin]. */
    private class ScriptedPinPad(private val pin: String) : PinPad {
        val shown = mutableListOf<Triple<FragmentActivity, PinRequest, Boolean>>()
        override suspend fun requestPin(activity: FragmentActivity, request: PinRequest): PinEntry {
            shown += Triple(activity, request, Looper.myLooper() == Looper.getMainLooper())
            return PinEntry.Entered(pin.toByteArray())
        }
    }

    @Before
    fun setUp() {
        TestAndroidKeyStore.install()
        ShadowLog.clear()
        // What the manifest and the phone say.
        app.applicationInfo.nonLocalizedLabel = "ibkey sample"
        shadowOf(app.packageManager).getInternalMutablePackageInfo(app.packageName).versionName = "0.1.0"
        ShadowBuild.setManufacturer("Google")
        ShadowBuild.setModel("Pixel 8")
    }

    @After
    fun tearDown() {
        opened.forEach { ibkey -> ibkey.diagnostics?.close(); ibkey.close() }
        TestAndroidKeyStore.uninstall()
        app.noBackupFilesDir.deleteRecursively()
    }

    private fun create(pinPad: PinPad, server: ReferenceServer? = null): IbKey {
        val config = AuthenticatorConfig(
            serverUrl = server?.url ?: "http://127.0.0.1:9",
            serverPublicKey = server?.publicKey,
            deviceName = IbKeyAndroid.deviceName(),
            verification = VerificationMethod.PIN,
        )
        return IbKeyAndroid.create(app, config, pinPad).also { opened += it }
    }

    @Test
    fun `the device name is the one the user recognises in the portal`() {
        assertEquals("Google Pixel 8", IbKeyAndroid.deviceName())
        ShadowBuild.setManufacturer("samsung")
        ShadowBuild.setModel("SM-S918B")
        assertEquals("samsung SM-S918B", IbKeyAndroid.deviceName())
        ShadowBuild.setManufacturer("OnePlus")
        ShadowBuild.setModel("OnePlus 12")
        assertEquals("OnePlus 12", IbKeyAndroid.deviceName())
    }

    @Test
    fun `a support bundle names the app, its version and the phone from the package and Build`() {
        val info = IbKeyAndroid.appInfo(app)
        assertEquals("ibkey sample", info.appName)
        assertEquals("0.1.0", info.appVersion)
        assertEquals("android", info.platform)
        assertEquals("Android 14 (API 34)", info.osVersion)
        assertEquals("Google Pixel 8", info.deviceModel)

        val ibkey = create(ScriptedPinPad("730419"))
        val manifest = awaitWithMainLooper {
            ibkey.diagnostics!!.prepare(BundleRequest(comment = "activation fails")).use { it.preview().manifestJson }
        }
        for (expected in listOf("ibkey sample", "0.1.0", "Android 14 (API 34)", "Google Pixel 8")) {
            assertTrue(expected in manifest, "$expected not in the manifest: $manifest")
        }
        // Logs and the outbox live in noBackupFilesDir, never in a backup.
        assertTrue(File(app.noBackupFilesDir, "ibkey-diagnostics").isDirectory)
    }

    @Test
    fun `activation by session ID on the phone, PIN pad over the activity in front, key and accounts kept`() {
        ReferenceServer.start().use { server ->
            val pinPad = ScriptedPinPad("730419")
            val ibkey = create(pinPad, server)
            val activity = Robolectric.buildActivity(FragmentActivity::class.java).setup().get()
            val sessionId = server.ticket("alice").sessionId

            val result = awaitWithMainLooper { ibkey.activateWithSessionId(sessionId) }

            assertEquals("alice", assertIs<ActivationOutcome.Activated>(result).account.username)
            assertEquals(1, server.portalCredentialIds("alice").size)
            // The PIN was chosen on the app's pad, on the main thread, over the resumed activity.
            val (shownOver, request, onMain) = pinPad.shown.single()
            assertSame(activity, shownOver)
            assertEquals(PinPurpose.CREATE, request.purpose)
            assertTrue(onMain)
            // The device key and the store's generation are in the Keystore; the store's files
            // in noBackupFilesDir/ibkey, sealed, beside the store's lock file.
            assertTrue(TestAndroidKeyStore.entries.keys.any { it.startsWith("io.ibkey.device.") })
            assertTrue(TestAndroidKeyStore.entries.keys.any { it.startsWith("io.ibkey.store.v1.generation.") })
            val files = File(app.noBackupFilesDir, "ibkey").listFiles().orEmpty().filter { it.name != ".lock" }
            assertTrue(
                files.isNotEmpty() && files.all { it.name.endsWith(".bin") },
                "store files in noBackupFilesDir/ibkey: ${files.map { it.name }}",
            )
            assertTrue(files.none { "alice" in it.readBytes().decodeToString(throwOnInvalidSequence = false) })
            // The core's lines reach logcat, without the session ID.
            val logcat = ShadowLog.getLogsForTag("ibkey")
            assertTrue(logcat.any { it.type == Log.INFO }, "no core line on logcat")
            val compact = sessionId.replace("-", "")
            assertTrue(logcat.none { compact in it.msg.replace("-", "") }, "the session ID is on logcat")

            // The app restarts: the user is still there.
            ibkey.diagnostics?.close()
            ibkey.close()
            opened.clear()
            val restarted = create(ScriptedPinPad("730419"), server)
            assertEquals(listOf("alice"), awaitWithMainLooper { restarted.accounts() }.map { it.username })
            assertTrue(awaitWithMainLooper { restarted.hasPin() })
        }
    }

    @Test
    fun `an activation while the app is in the background asks no PIN and enrolls no one, back in front it works`() {
        ReferenceServer.start().use { server ->
            val pinPad = ScriptedPinPad("730419")
            val ibkey = create(pinPad, server)
            val controller = Robolectric.buildActivity(FragmentActivity::class.java).setup()
            controller.pause().stop()
            val sessionId = server.ticket("bob").sessionId

            val e = assertFailsWith<Exception> { awaitWithMainLooper { ibkey.activateWithSessionId(sessionId) } }
            assertEquals("GATE_CANCELLED", e.verificationFailure?.ibkeyCode, "${e.ibkeyCode}: ${e.message}")
            assertTrue(pinPad.shown.isEmpty())
            assertEquals(emptyList(), awaitWithMainLooper { ibkey.accounts() })
            assertFalse(TestAndroidKeyStore.entries.keys.any { it.startsWith("io.ibkey.device.") })

            controller.start().resume()
            val result = awaitWithMainLooper { ibkey.activateWithSessionId(sessionId) }
            assertEquals("bob", assertIs<ActivationOutcome.Activated>(result).account.username)
            assertSame(controller.get(), pinPad.shown.single().first)
        }
    }
}
