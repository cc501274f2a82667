package io.ibkey.sample

import android.graphics.Color
import android.graphics.Typeface
import android.os.Bundle
import android.text.InputType
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.TextView
import androidx.fragment.app.FragmentActivity
import io.ibkey.android.common.IbKey
import io.ibkey.android.common.ibkeyCode
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch

/**
 * Challenge/response and time-based codes, for a phone without a network: for each user on the
 * device, a field for the 6-digit challenge the login page shows (a mistyped one is caught
 * before anything is computed) and the 8-digit response after the PIN, or the current 6-digit
 * time-based code. Nothing here needs the network.
 */
class OfflineCodesActivity : FragmentActivity() {

    private val ibkey: IbKey get() = (application as SampleApplication).ibkey

    private lateinit var list: LinearLayout
    private lateinit var status: TextView
    private val screenScope = CoroutineScope(SupervisorJob() + Dispatchers.Main.immediate)

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val column = LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setPadding(dp(16), dp(16), dp(16), dp(16))
        }
        column.addView(TextView(this).apply {
            text = "Challenge/response (no network needed)"
            setTypeface(typeface, Typeface.BOLD)
        })
        status = TextView(this).apply {
            setPadding(0, dp(8), 0, dp(8))
            textSize = 20f
            setTextIsSelectable(true)
        }
        column.addView(status)
        list = LinearLayout(this).apply { orientation = LinearLayout.VERTICAL }
        column.addView(list)
        setContentView(ScrollView(this).apply { addView(column) })
        run("Reading the users") {
            val accounts = ibkey.accounts()
            accounts.forEach { list.addView(userCard(it.username)) }
            ibkey.clockOffsetSecs()?.takeIf { kotlin.math.abs(it) > 600 }?.let {
                "This phone's clock is ${it / 60} minutes off; codes use the server's time anyway. " +
                    "Set the date and time to automatic."
            } ?: if (accounts.isEmpty()) "No users yet." else ""
        }
    }

    override fun onDestroy() {
        screenScope.cancel()
        super.onDestroy()
    }

    private fun userCard(username: String) = LinearLayout(this).apply {
        orientation = LinearLayout.VERTICAL
        setPadding(0, dp(12), 0, dp(12))
        addView(TextView(context).apply { text = username })
        val challenge = EditText(context).apply {
            hint = "Challenge from the login page (123 456)"
            inputType = InputType.TYPE_CLASS_NUMBER
        }
        addView(challenge)
        addView(Button(context).apply {
            text = "Show response"
            setOnClickListener {
                val typed = challenge.text.toString()
                run("Computing") {
                    val answer = ibkey.respond(username, typed)
                    "Type into the login page: ${answer.response.chunked(4).joinToString(" ")}"
                }
            }
        })
        addView(Button(context).apply {
            text = "Show time-based code"
            setOnClickListener {
                run("Computing") {
                    val code = ibkey.timeCode(username)
                    "${code.code} (good for ${code.secondsLeft} more seconds)"
                }
            }
        })
    }

    /** Runs one step and shows how it ended; errors as `error [CODE]: message`. */
    private fun run(what: String, block: suspend () -> String) {
        status.text = "$what…"
        status.setTextColor(Color.DKGRAY)
        screenScope.launch {
            try {
                status.text = block()
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                status.text = "error [${e.ibkeyCode ?: "?"}]: ${e.message}"
                status.setTextColor(Color.rgb(0xB0, 0x00, 0x20))
            }
        }
    }

    private fun dp(value: Int): Int = (value * resources.displayMetrics.density).toInt()
}
