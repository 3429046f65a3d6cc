"""Words other packages show on our admin pages, for our catalogues (issue 17).

Django 6.1's new blank-choice label and django-axes' labels have no Japanese of their own, so
admin read "- Select an option -" and "Access attempts" in the Japanese admin. Listed here,
makemessages keeps them in locale/, and Django uses our translation: LOCALE_PATHS come before
every package's own catalogue. What axes writes without gettext (its app name, a failure's
title) is given words in accounts.apps.
"""

from django.utils.translation import gettext_noop

WORDS = [
    gettext_noop("- Select an option -"),  # django.db.models.fields.BLANK_CHOICE_LABEL
    # A form label's suffix (django.forms.Form.label_suffix): full width after Japanese, as
    # every Japanese text here (admin's forms; ours have none).
    gettext_noop(":"),
    # A required field left empty, wherever a form gives no words of its own (admin's forms):
    # django-simple-captcha's Japanese, which comes before Django's, has no 「。」.
    gettext_noop("This field is required."),
    # django-axes' models and admin
    gettext_noop("Access Attempt"),
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
    gettext_noop("Attempt Remaining"),
    gettext_noop("Attempt Time"),
    gettext_noop("Clean up expired attempts"),
    gettext_noop("Expires At"),
    gettext_noop("Failed Logins"),
    gettext_noop("HTTP Accept"),
    gettext_noop("IP Address"),
    gettext_noop("Locked Out"),
    gettext_noop("Logout Time"),
    gettext_noop("Meta Data"),
    gettext_noop("Not set"),
    gettext_noop("Path"),
    gettext_noop("The time when access attempt expires and is no longer valid."),
    gettext_noop("User Agent"),
    gettext_noop("Username"),
    gettext_noop("Access lock out"),
]
