package io.ibkey.sample

import android.os.Bundle
import android.text.InputType
import android.widget.EditText
import android.widget.LinearLayout

/**
 * Challenge/response and time-based codes, for a phone without a network: for each user on the
 * device, a field for the 6-digit challenge the login page shows (a mistyped one is caught
 * before anything is computed) and the 8-digit response after the PIN, or the current 6-digit
 * time-based code. Nothing here needs the network.
 */
class OfflineCodesActivity : SampleScreen() {

    private lateinit var list: LinearLayout

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        showScreen("Challenge/response (no network needed)") { column ->
            addStatusLine(column, selectable = true, textSizeSp = 20f)
            list = vertical()
            column.addView(list)
        }
        status.run("Reading the users") {
            val accounts = ibkey.accounts()
            accounts.forEach { list.addView(userCard(it.username)) }
            ibkey.clockOffsetSecs()?.takeIf { kotlin.math.abs(it) > 600 }?.let {
                "This phone's clock is ${it / 60} minutes off; codes use the server's time anyway. " +
                    "Set the date and time to automatic."
            } ?: if (accounts.isEmpty()) "No users yet." else ""
        }
    }

    /** One user's card: the challenge field, its response, and the time-based code. */
    private fun userCard(username: String) = vertical(paddingDp = 12).apply {
        addView(note(username))
        val challenge = EditText(context).apply {
            hint = "Challenge from the login page (123 456)"
            inputType = InputType.TYPE_CLASS_NUMBER
        }
        addView(challenge)
        addView(button("Show response") {
            val typed = challenge.text.toString()
            status.run("Computing") {
                val answer = ibkey.respond(username, typed)
                "Type into the login page: ${answer.response.chunked(4).joinToString(" ")}"
            }
        })
        addView(button("Show time-based code") {
            status.run("Computing") {
                val code = ibkey.timeCode(username)
                "${code.code} (good for ${code.secondsLeft} more seconds)"
            }
        })
    }
}
