import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

application = get_wsgi_application()

# Without a broker, nothing else runs the periodic tasks (config/scheduler.py).
from config import scheduler  # noqa: E402 (needs the settings the application loaded)

scheduler.start()
