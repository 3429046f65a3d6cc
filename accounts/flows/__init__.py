"""Account events and their side effects: one module per event, one function per step.

A view, a form, admin, a command or the worker calls these; none of them repeats what happens
around an event (save in one transaction, sessions, security log, notice email). A function
returns what happened (a result, a time, a dataclass) and never words it: the form or view
that called it writes the message, in the member's language.

    sign_in        signing in and out, and a failed sign-in
    mailbox        the code mailed after a sign-in on the published defaults
    pin            confirming a change with the PIN (a counted try), changing the PIN
    password       changing the main password and the sub password
    reset          forgot password / PIN: the emailed link, and setting the secret from it
    email_change   asking to change the email address, and confirming it from the link
    language       the member's preferred language
    registration   registering: the pending registration, its emailed link, the new member
    credential_change  writing a new secret so that a racing change from elsewhere loses
"""

import datetime

# A form sent again this soon after it did what it asked is that form sent twice (a double
# tap, or a second click on a slow page): the repeat is answered as the first was, and
# writes, logs, counts and mails nothing more.
SENT_TWICE = datetime.timedelta(seconds=30)
