package io.ibkey.sample

import android.os.Bundle
import android.text.InputType
import android.view.View
import android.widget.Button
import android.widget.EditText
import io.ibkey.core.ActivationOutcome

/**
 * "Move IB Key to this phone": how to get a move code from the portal, then the QR code's text
 * (pasted here, as the main screen takes it): first read, to show whom it moves and which
 * devices stop working, then, once the user confirms, the move itself.
 */
class MoveActivity : SampleScreen() {

    private lateinit var payload: EditText
    private lateinit var confirm: Button

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        showScreen("Move IB Key to this phone") { column ->
            column.addView(note(
                "1. On a computer, sign in to the portal and choose 'Move IB Key to a new phone'.\n" +
                    "2. Enter the code we send you by e-mail or SMS.\n" +
                    "3. The portal shows a QR code: scan it with this phone, or paste its text below.\n" +
                    "Your old phone stops approving your logins once the move is done.",
                paddingDp = 8,
            ))
            payload = EditText(this).apply {
                hint = "IBK1.…"
                inputType = InputType.TYPE_CLASS_TEXT or InputType.TYPE_TEXT_FLAG_NO_SUGGESTIONS
            }
            column.addView(payload)
            column.addView(button("Read the code") { inspect() })
            addStatusLine(column, paddingDp = 16, selectable = true)
            confirm = button("Move here") { move() }.apply { visibility = View.GONE }
            column.addView(confirm)
        }
    }

    /** Reads the code without using it: whom it moves, and what stops working. */
    private fun inspect() {
        val text = payload.text.toString().trim()
        confirm.visibility = View.GONE
        status.run("Reading the code") {
            val request = ibkey.inspectQr(text)
            confirm.visibility = View.VISIBLE
            if (request.replaces.isEmpty()) {
                "This code activates ${request.username} here; it replaces no other phone. Press \"Move here\" to go on."
            } else {
                "This moves ${request.username} to this phone. These stop approving ${request.username}'s " +
                    "logins: ${request.replaces.joinToString()}. Press \"Move here\" to go on."
            }
        }
    }

    /** Uses the code: the move itself. */
    private fun move() {
        val text = payload.text.toString().trim()
        confirm.visibility = View.GONE
        status.run("Moving") {
            when (val outcome = ibkey.activateFromQr(text)) {
                is ActivationOutcome.Moved ->
                    "${outcome.account.username} moved to this phone. Stopped working: " +
                        "${outcome.replaced.joinToString().ifEmpty { "no other phone" }}."
                is ActivationOutcome.Activated -> "${outcome.account.username} is activated on this phone."
                is ActivationOutcome.AlreadyActivatedWithThisCode ->
                    "${outcome.account.username} was already moved here with this code: nothing more to do."
            }
        }
    }
}
