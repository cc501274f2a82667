package io.ibkey.android

import android.util.Log
import io.ibkey.core.LogLevel
import kotlin.test.assertEquals
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.shadows.ShadowLog

/** [LogcatSink]: each core line on logcat under the app's tag, at the matching priority. */
@RunWith(RobolectricTestRunner::class)
class LogcatSinkTest {

    @Before
    fun setUp() = ShadowLog.clear()

    @Test
    fun `every level reaches logcat at its priority, prefixed by the part of the core`() {
        val sink = LogcatSink()
        sink.log(LogLevel.ERROR, "ibkey_core::accounts", "the store cannot be read")
        sink.log(LogLevel.WARN, "ibkey_core::gate", "wrong PIN, 4 tries left")
        sink.log(LogLevel.INFO, "ibkey_core::activation", "alice activated")
        sink.log(LogLevel.DEBUG, "ibkey_core::http", "POST /v1/device/enroll -> 201")
        sink.log(LogLevel.TRACE, "ibkey_core::scan", "finder patterns: 3")

        val lines = ShadowLog.getLogsForTag("ibkey").map { it.type to it.msg }
        assertEquals(
            listOf(
                Log.ERROR to "ibkey_core::accounts: the store cannot be read",
                Log.WARN to "ibkey_core::gate: wrong PIN, 4 tries left",
                Log.INFO to "ibkey_core::activation: alice activated",
                Log.DEBUG to "ibkey_core::http: POST /v1/device/enroll -> 201",
                Log.VERBOSE to "ibkey_core::scan: finder patterns: 3",
            ),
            lines,
        )
    }

    @Test
    fun `an app's own tag`() {
        LogcatSink(tag = "BrokerKey").log(LogLevel.INFO, "ibkey_core::activation", "bob activated")
        assertEquals(listOf("ibkey_core::activation: bob activated"), ShadowLog.getLogsForTag("BrokerKey").map { it.msg })
        assertEquals(emptyList(), ShadowLog.getLogsForTag("ibkey"))
    }
}
