# Dates as Japanese members write them: 2026年12月2日 22:14 (Django's own runs the date into
# the time, 2026年12月2日22:14).
DATE_FORMAT = "Y年n月j日"
DATETIME_FORMAT = "Y年n月j日 H:i"
TIME_FORMAT = "H:i"
# The ticker's delayed mark (遅延 12/2 9:30), where the strip has little room.
SHORT_DATETIME_FORMAT = "n/j G:i"
