package io.ibkey.sample

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
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel

/**
 * Challenge/response and time-based codes, for a phone without a network: for each user on the
 * device, a field for the 6-digit challenge the login page shows (a mistyped one is caught
 * before anything is computed) and the 8-digit response after the PIN, or the current 6-digit
 * time-based code. Nothing here needs the network.
 */
class OfflineCodesActivity : FragmentActivity() {

    private val ibkey: IbKey get() = (application as SampleApplication).ibkey

    private lateinit var list: LinearLayout
    private lateinit var status: StatusLine
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
        val statusView = TextView(this).apply {
            setPadding(0, dp(8), 0, dp(8))
            textSize = 20f
            setTextIsSelectable(true)
        }
        column.addView(statusView)
        status = StatusLine(statusView, screenScope)
        list = LinearLayout(this).apply { orientation = LinearLayout.VERTICAL }
        column.addView(list)
        setContentView(ScrollView(this).apply { addView(column) })
        status.run("Reading the users") {
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
                status.run("Computing") {
                    val answer = ibkey.respond(username, typed)
                    "Type into the login page: ${answer.response.chunked(4).joinToString(" ")}"
                }
            }
        })
        addView(Button(context).apply {
            text = "Show time-based code"
            setOnClickListener {
                status.run("Computing") {
                    val code = ibkey.timeCode(username)
                    "${code.code} (good for ${code.secondsLeft} more seconds)"
                }
            }
        })
    }

}
