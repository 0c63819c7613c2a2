"""Demo data for `make run`: staff logins for each role, two customers, products of both
authorization methods, entitlements, codes, devices, licenses and a client credential.

Idempotent: running it again changes nothing that is already there.
"""

import datetime as dt

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from licensing import roles, services
from licensing.actors import Actor
from licensing.models import (
    ActivationCode,
    ApiToken,
    ClientCredential,
    Customer,
    CustomerContact,
    Entitlement,
    EntitlementFeature,
    LicenseTransaction,
    LicenseUser,
    PortalSettings,
    Product,
    ProductFeature,
)
from licensing.models.credentials import hash_api_token

# Demo-only secrets: printed on every start so the local server can be tried at once.
STAFF = [
    # username, password, superuser, group
    ("admin", "admin", True, None),
    ("support", "support-demo", False, roles.SUPPORT),
    ("licadmin", "licadmin-demo", False, roles.LICENSING_ADMIN),
]
DEMO_API_KEY = "demo-api-key"
DEMO_SHARED_KEY = "demo-shared-key-change-me"
DEMO_MANAGEMENT_TOKEN = "lsm_demo-management-token-change-me"
DEMO_LICENSE_USER = ("jane@example.com", "jane-demo-password")
DEMO_CONTACT = ("it@acme.example", "acme-portal-demo")
# The demo's products, as the printout describes them.
DEMO_PRODUCTS = {
    "studio": "activated with a license key; offers 14-day trials",
    "studio-team": "activated by a license user's email and password; metered",
    "render": "floating: any of Acme's render nodes, three at once",
}
# The hardware id of design-ws-01, the first of Acme's computers running Studio Desktop.
DEMO_DEVICE = "demo-hw-acme-1"


class Command(BaseCommand):
    help = "Load demo data (idempotent) and print the demo logins and client credential."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Where the server will listen.")
        parser.add_argument("--force", action="store_true", help="Load even though DEBUG is off.")

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            # The demo has well-known passwords and keys: never by accident in production.
            raise CommandError("Refusing to load demo data with DEBUG off (it has public passwords); use --force.")
        with transaction.atomic():
            self._staff()
            self._catalog()
        self._print(options["url"].rstrip("/"))

    def _staff(self) -> None:
        roles.sync_roles()
        for username, password, superuser, group in STAFF:
            user, created = User.objects.get_or_create(
                username=username, defaults={"is_staff": True, "is_superuser": superuser}
            )
            if created:
                user.set_password(password)
                user.save()
            if group:
                user.groups.add(Group.objects.get(name=group))

    def _catalog(self) -> None:
        """The records, made through the services as staff would make them (audited);
        only the two credentials are written directly, since the services make random
        keys and the demo's are printed, well-known ones."""
        actor = Actor.system("load_demo")
        now = timezone.now()
        desktop = Product.objects.filter(code="studio").first() or services.product_create(
            # Client applications may ask for a 14-day trial key (GET /api/v4/trial_key).
            product=Product(
                code="studio",
                name="Studio Desktop",
                authorization_method="license_key",
                trial_allowed=True,
                trial_duration=14,
            ),
            actor=actor,
        )
        cloud = Product.objects.filter(code="studio-team").first() or services.product_create(
            product=Product(code="studio-team", name="Studio Team", authorization_method="user"), actor=actor
        )
        render = Product.objects.filter(code="render").first() or services.product_create(
            product=Product(code="render", name="Studio Render", authorization_method="license_key"), actor=actor
        )
        acme = Customer.objects.filter(external_id="CRM-1001").first()
        if acme is None:
            acme = services.customer_create(
                customer=Customer(external_id="CRM-1001", name="Acme Corporation", email="it@acme.example"), actor=actor
            )
            self._acme(acme, desktop, cloud, now, actor)
            self._render_farm(acme, render, now, actor)
        if not CustomerContact.objects.filter(email=DEMO_CONTACT[0]).exists():
            contact = services.customer_contact_create(
                contact=CustomerContact(customer=acme, email=DEMO_CONTACT[0], name="Acme IT"), actor=actor
            )
            services.portal_password_set(account=contact, password=DEMO_CONTACT[1], actor=actor)
        if not Customer.objects.filter(external_id="CRM-1002").exists():
            person = services.customer_create(
                customer=Customer(
                    external_id="CRM-1002", name="Rosa Martínez", kind=Customer.Kind.PERSON, email="rosa@example.com"
                ),
                actor=actor,
            )
            services.entitlement_create(
                # Ends in two weeks (the portal says so, with the renewal message), with a
                # week's grace after that.
                entitlement=Entitlement(
                    customer=person,
                    product=desktop,
                    seats=1,
                    valid_from=now,
                    valid_until=now + dt.timedelta(days=14),
                    grace_period=dt.timedelta(days=7),
                ),
                actor=actor,
            )
        vendor = PortalSettings.current()
        if vendor.vendor_name == PortalSettings._meta.get_field("vendor_name").default:
            services.portal_settings_update(
                portal_settings=vendor,
                data={
                    "vendor_name": "Studio Software",
                    "contact_message": "To restore access, email billing@studio.example or call +1 555 0100.",
                    "support_email": "support@studio.example",
                    "renewal_message": "Renew at https://studio.example/renew or email billing@studio.example.",
                },
                actor=actor,
            )
        if not ApiToken.objects.filter(token_hash=hash_api_token(DEMO_MANAGEMENT_TOKEN)).exists():
            ApiToken.for_token(DEMO_MANAGEMENT_TOKEN, name="Demo back office").save()
        if not ClientCredential.objects.filter(api_key=DEMO_API_KEY).exists():
            credential = ClientCredential(name="Demo client", api_key=DEMO_API_KEY)
            credential.shared_key = DEMO_SHARED_KEY
            credential.save()

    def _acme(self, acme: Customer, desktop: Product, cloud: Product, now: dt.datetime, actor: Actor) -> None:
        order = services.transaction_create(
            license_transaction=LicenseTransaction(customer=acme, external_id="ORDER-5001"), actor=actor
        )
        studio = services.entitlement_create(
            entitlement=Entitlement(
                customer=acme,
                product=desktop,
                transaction=order,
                seats=5,
                valid_from=now - dt.timedelta(days=30),
                valid_until=now + dt.timedelta(days=335),
            ),
            actor=actor,
        )
        self._grant(studio, desktop, "export", "Export to PDF", True, actor)
        self._grant(studio, desktop, "max_projects", "Projects", 50, actor)
        team = services.entitlement_create(
            entitlement=Entitlement(
                customer=acme,
                product=cloud,
                transaction=order,
                seats=10,
                valid_from=now - dt.timedelta(days=30),
                # Metered: 10,000 sync jobs a month, and cloud renders as a feature of their own.
                max_consumptions=10_000,
                reset_period="monthly",
            ),
            actor=actor,
        )
        renders = self._grant(team, cloud, "renders", "Cloud renders", None, actor, consumption=True)
        services.consumption_correct(entitlement=team, amount=6_240, reason="Usage before the demo", actor=actor)
        services.consumption_correct(
            entitlement=team, amount=38, feature=renders.feature, reason="Usage before the demo", actor=actor
        )
        code = services.activation_code_create(activation_code=ActivationCode(entitlement=studio), actor=actor)
        services.activation_code_create(
            activation_code=ActivationCode(entitlement=studio, max_activations=1), actor=actor
        )
        services.license_user_create(
            license_user=LicenseUser(customer=acme, username=DEMO_LICENSE_USER[0], name="Jane Doe"),
            password=DEMO_LICENSE_USER[1],
            entitlements=[team],
            actor=actor,
        )
        # Two devices already running Studio, activated as their client would.
        for n, host in enumerate(["design-ws-01", "design-ws-02"], start=1):
            services.license_activate(
                product_code=desktop.code,
                hardware_id=f"demo-hw-acme-{n}",
                license_key=code.code,
                facts={"hostname": host, "os_ver": "Windows 11"},
                actor=actor,
            )

    def _grant(
        self, entitlement, product: Product, code: str, name: str, value, actor: Actor, consumption: bool = False
    ) -> EntitlementFeature:
        kind = ProductFeature.FeatureType.CONSUMPTION if consumption else ProductFeature.FeatureType.ACTIVATION
        feature = ProductFeature.objects.filter(product=product, code=code).first() or services.product_feature_create(
            product_feature=ProductFeature(product=product, code=code, name=name, feature_type=kind), actor=actor
        )
        terms = {"max_consumptions": 50, "reset_period": "monthly"} if consumption else {}
        return services.entitlement_feature_grant(
            entitlement_feature=EntitlementFeature(entitlement=entitlement, feature=feature, value=value, **terms),
            actor=actor,
        )

    def _render_farm(self, acme: Customer, render: Product, now: dt.datetime, actor: Actor) -> None:
        """A floating entitlement: any of Acme's render nodes may run it, three at once;
        two run it now (their slots end ten minutes after loading, as nothing renews them)."""
        farm = services.entitlement_create(
            entitlement=Entitlement(
                customer=acme,
                product=render,
                license_model=Entitlement.LicenseModel.FLOATING,
                seats=3,
                max_activations=20,
                floating_timeout=600,
                max_borrow_time=86_400,
                valid_from=now - dt.timedelta(days=30),
            ),
            actor=actor,
        )
        code = services.activation_code_create(activation_code=ActivationCode(entitlement=farm), actor=actor)
        for n in (1, 2):
            services.license_activate(
                product_code=render.code,
                hardware_id=f"demo-hw-render-{n}",
                license_key=code.code,
                facts={"hostname": f"render-node-{n:02d}", "os_ver": "Ubuntu 24.04"},
                actor=actor,
            )

    def _print(self, url: str) -> None:
        lines = ["", f"Demo data is loaded. Sign in at {url}/admin/ with:"]
        lines += [
            f"  {username:<9} / {password:<14} ({group or 'superuser'})" for username, password, _, group in STAFF
        ]
        lines += [
            f"End users sign in to the portal at {url}/portal/ with:",
            f"  {DEMO_CONTACT[0]} / {DEMO_CONTACT[1]} (customer contact of Acme Corporation)",
            f"  {DEMO_LICENSE_USER[0]} / {DEMO_LICENSE_USER[1]} (license user of the user-based product 'studio-team')",
            "Client API credential:",
            f"  api key:    {DEMO_API_KEY}",
            f"  shared key: {DEMO_SHARED_KEY}",
            *self._client_lines(url),
            f"Management API token (read-write; docs at {url}/api/docs/):",
            f"  curl -H 'Authorization: Bearer {DEMO_MANAGEMENT_TOKEN}' {url}/api/v1/customers",
            "",
        ]
        self.stdout.write("\n".join(lines))

    def _client_lines(self, url: str) -> list[str]:
        """What to try the client API with: the product codes, a code of Acme's Studio
        Desktop in full, and a signed check of a device it activated, ready to paste
        (docs/client-api.md explains the signing)."""
        products = Product.objects.filter(code__in=DEMO_PRODUCTS).order_by("code")
        lines = ["Product codes:"]
        lines += [f"  {p.code:<12} {p.name} ({DEMO_PRODUCTS[p.code]})" for p in products]
        code = (
            ActivationCode.objects.filter(
                entitlement__customer__external_id="CRM-1001",
                entitlement__product__code="studio",
                status=ActivationCode.Status.ACTIVE,
                max_activations__isnull=True,
            )
            .order_by("created_at", "pk")
            .first()
        )
        if code is None:  # changed since the demo made it: nothing to try it with
            return lines
        check = (
            f"{url}/api/v4/check_license?product=studio&hardware_id={DEMO_DEVICE}&license_key={code.code}&nonce=try-1"
        )
        authorization = (
            'algorithm=\\"hmac-sha256\\",headers=\\"date\\",signature=\\"$SIG\\",apiKey=\\"' + DEMO_API_KEY + '\\"'
        )
        return [
            *lines,
            "Activation code of Acme's Studio Desktop (5 seats; design-ws-01 and design-ws-02 hold two of them):",
            f"  {code.code}",
            f"Check design-ws-01 (hardware id {DEMO_DEVICE}) with a signed request, pasted into a shell with curl",
            "and openssl (docs/client-api.md explains the signing, and every endpoint):",
            "  DATE=$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S GMT')",
            f"  SIG=$(printf 'licenseSpring\\ndate: %s' \"$DATE\""
            f" | openssl dgst -sha256 -hmac '{DEMO_SHARED_KEY}' -binary | base64)",
            f'  curl -i -H "Date: $DATE" -H "Authorization: {authorization}" \\',
            f"    '{check}'",
        ]
