package io.ibkey.sample

import android.app.AlertDialog
import android.text.InputType
import android.view.WindowManager
import android.widget.EditText
import androidx.fragment.app.FragmentActivity
import io.ibkey.android.PinPad
import io.ibkey.core.PinEntry
import io.ibkey.core.PinPurpose
import io.ibkey.core.PinRequest
import kotlin.coroutines.resume
import kotlinx.coroutines.suspendCancellableCoroutine

/** The sample's PIN pad: a dialog with a number field. The core checks what is typed. */
object PinPadDialog : PinPad {

    override suspend fun requestPin(activity: FragmentActivity, request: PinRequest): PinEntry =
        suspendCancellableCoroutine { continuation ->
            val field = EditText(activity).apply {
                inputType = InputType.TYPE_CLASS_NUMBER or InputType.TYPE_NUMBER_VARIATION_PASSWORD
                hint = "PIN"
            }
            fun finish(entry: PinEntry) {
                if (continuation.isActive) continuation.resume(entry)
            }
            val (title, explanation) = when (request.purpose) {
                PinPurpose.CREATE -> "Choose a PIN for this device" to
                    "4 to 12 digits. You will confirm activations and logins with it."
                PinPurpose.CONFIRM -> "Enter your PIN" to "The PIN you chose for this device."
            }
            val dialog = AlertDialog.Builder(activity)
                .setTitle(title)
                .setMessage(request.retryReason ?: explanation)
                .setView(field)
                .setPositiveButton("OK") { _, _ ->
                    // Digits straight from the field into bytes the core wipes: no String of
                    // the PIN is made, and the field is cleared at once.
                    val typed = field.text
                    finish(PinEntry.Entered(ByteArray(typed.length) { typed[it].code.toByte() }))
                    typed.clear()
                }
                .setNegativeButton("Cancel") { _, _ -> finish(PinEntry.Cancelled) }
                // Back or a tap outside; after OK or Cancel this finds the entry already given.
                .setOnDismissListener { finish(PinEntry.Cancelled) }
                .create()
            // No screenshots or screen recordings of the PIN pad.
            dialog.window?.setFlags(WindowManager.LayoutParams.FLAG_SECURE, WindowManager.LayoutParams.FLAG_SECURE)
            continuation.invokeOnCancellation { activity.runOnUiThread { dialog.dismiss() } }
            dialog.show()
        }
}
