# Times on the 24-hour clock, as on the Japanese pages, and named as Japan time: an English
# reader may be anywhere, and "until 21:05" alone reads as their own clock. Nov. 30, 2026,
# 21:05 JST. Django's own "9:05 p.m." ended a sentence in two full stops ("paused until …
# p.m..").
DATETIME_FORMAT = "N j, Y, H:i T"
TIME_FORMAT = "H:i T"
# The ticker's delayed mark (delayed 12/2 9:30 JST): short, and Japan time named as above.
SHORT_DATETIME_FORMAT = "n/j G:i T"
