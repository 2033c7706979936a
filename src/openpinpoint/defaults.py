"""The defaults of `openpinpoint`'s flags, in a module that imports nothing: the argument
parser needs them at every start, and finding them in the modules that use them imported
the whole server (a quarter of a second that `migrate-store` paid before copying)."""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9400
DEFAULT_ACCOUNT_ID = "000000000000"
DEFAULT_BODY_TIMEOUT = 60.0
DEFAULT_HEADER_TIMEOUT = 10.0

DELIVERY_TIMEOUT = 10.0
OUTBOX = "outbox"
DIRECT = "direct"
APNS_URL = "https://api.push.apple.com"
APNS_SANDBOX_URL = "https://api.sandbox.push.apple.com"
FCM_URL = "https://fcm.googleapis.com"
