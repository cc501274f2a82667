package io.ibkey.android

import android.util.Log
import io.ibkey.core.LogLevel
import io.ibkey.ffi.LogSink

/**
 * The core's [LogSink] on logcat: every line under [tag] at the matching priority, prefixed by
 * the part of the core that logged it. Install it with `diagnostics.setLogSink(LogcatSink(), level)`.
 */
class LogcatSink(private val tag: String = "ibkey") : LogSink {
    override fun log(level: LogLevel, target: String, message: String) {
        val priority = when (level) {
            LogLevel.ERROR -> Log.ERROR
            LogLevel.WARN -> Log.WARN
            LogLevel.INFO -> Log.INFO
            LogLevel.DEBUG -> Log.DEBUG
            LogLevel.TRACE -> Log.VERBOSE
        }
        Log.println(priority, tag, "$target: $message")
    }
}
