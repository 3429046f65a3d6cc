# Times on the 24-hour clock, as on the Japanese pages (Japan time either way): Nov. 30, 2026,
# 21:05. Django's own "9:05 p.m." ended a sentence in two full stops ("paused until … p.m..").
DATETIME_FORMAT = "N j, Y, H:i"
TIME_FORMAT = "H:i"
