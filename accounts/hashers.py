from django.contrib.auth.hashers import Argon2PasswordHasher


class MemberArgon2Hasher(Argon2PasswordHasher):
    """Argon2id at OWASP's second recommended setting (m=19 MiB, t=2, p=1).

    Django's own default (m=100 MiB, p=8) takes 87 ms a verification on our 2-core machines,
    about 12 sign-ins a second for the whole machine; this takes ~14 ms and still meets
    OWASP's Password Storage Cheat Sheet. The README has the measurement (`make bench`).
    Same algorithm name as Django's hasher, so hashes made with other parameters still verify
    and are upgraded at the next sign-in.
    """

    time_cost = 2
    memory_cost = 19 * 1024
    parallelism = 1
