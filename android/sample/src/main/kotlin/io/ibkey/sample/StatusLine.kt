package io.ibkey.sample

import android.content.Context
import android.graphics.Color
import android.widget.TextView
import io.ibkey.android.common.ibkeyCode
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.launch

/**
 * The line under a screen's actions that says how the last one ended: "…" while it runs, its
 * result when done, or the core's error as `error [CODE]: message` in red.
 */
class StatusLine(private val view: TextView, private val scope: CoroutineScope) {

    /** Runs [block] (described as [what] meanwhile) on [scope] and shows how it ended. */
    fun run(what: String, block: suspend () -> String) {
        show("$what…", error = false)
        scope.launch {
            try {
                show(block(), error = false)
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                show(describe(e), error = true)
            }
        }
    }

    /** Shows [text], in red when it is an [error]. */
    fun show(text: String, error: Boolean) {
        view.text = text
        view.setTextColor(if (error) Color.rgb(0xB0, 0x00, 0x20) else Color.DKGRAY)
    }

    companion object {
        /** How the screens word a failure: `error [CODE]: message`. */
        fun describe(e: Exception): String {
            val code = e.ibkeyCode
            val message = e.message ?: e.javaClass.simpleName
            return if (code != null) "error [$code]: $message" else "error: $message"
        }
    }
}

/** [value] density-independent pixels in pixels. */
fun Context.dp(value: Int): Int = (value * resources.displayMetrics.density).toInt()
