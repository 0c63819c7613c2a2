import datetime as dt

import factory
from django.contrib.auth.models import Group, User
from django.utils import timezone

from licensing.models import (
    ActivationCode,
    Customer,
    CustomerContact,
    Device,
    Entitlement,
    EntitlementFeature,
    License,
    LicenseTransaction,
    LicenseUser,
    Product,
    ProductFeature,
    WebhookEndpoint,
)
from licensing.models.webhooks import generate_secret
from licensing.services import seats


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    code = factory.Sequence(lambda n: f"product-{n}")
    name = factory.Sequence(lambda n: f"Product {n}")
    authorization_method = Product.AuthorizationMethod.LICENSE_KEY


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.Sequence(lambda n: f"contact{n}@customer.example")
    external_id = factory.Sequence(lambda n: f"CRM-{n}")


class LicenseTransactionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LicenseTransaction

    customer = factory.SubFactory(CustomerFactory)
    external_id = factory.Sequence(lambda n: f"ORDER-{n}")


class EntitlementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Entitlement

    customer = factory.SubFactory(CustomerFactory)
    product = factory.SubFactory(ProductFactory)
    seats = 5
    valid_from = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=1))
    valid_until = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=365))


class ActivationCodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActivationCode

    entitlement = factory.SubFactory(EntitlementFactory)


class LicenseUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LicenseUser
        skip_postgeneration_save = True

    customer = factory.SubFactory(CustomerFactory)
    username = factory.Sequence(lambda n: f"user{n}@customer.example")
    password = factory.LazyFunction(lambda: "")

    @factory.post_generation
    def raw_password(self, create, extracted, **kwargs):
        self.set_password(extracted or "correct horse battery staple")
        if create:
            self.save(update_fields=["password"])


class CustomerContactFactory(factory.django.DjangoModelFactory):
    """A contact who has chosen a password (`raw_password`, or a default)."""

    class Meta:
        model = CustomerContact
        skip_postgeneration_save = True

    customer = factory.SubFactory(CustomerFactory)
    email = factory.Sequence(lambda n: f"contact{n}@customer.example")
    name = factory.Sequence(lambda n: f"Contact {n}")

    @factory.post_generation
    def raw_password(self, create, extracted, **kwargs):
        self.set_password(extracted or "portal password 123")
        if create:
            self.save(update_fields=["password"])


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    customer = factory.SubFactory(CustomerFactory)
    hardware_id = factory.Sequence(lambda n: f"hw-{n:08d}")
    hostname = factory.Sequence(lambda n: f"host-{n}")


class LicenseFactory(factory.django.DjangoModelFactory):
    """A license activated through an activation code of its entitlement."""

    class Meta:
        model = License

    activation_code = factory.SubFactory(ActivationCodeFactory)
    entitlement = factory.SelfAttribute("activation_code.entitlement")
    device = factory.SubFactory(DeviceFactory, customer=factory.SelfAttribute("..entitlement.customer"))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        """Counted as an activation counts it: the seat counts include the new license."""
        license = super()._create(model_class, *args, **kwargs)
        if license.holds_seat:
            seats.taken(license.entitlement, license.activation_code)
        return license


class StaffUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True
    password = factory.django.Password("staff-password")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        for name in extracted or ():
            self.groups.add(Group.objects.get(name=name))


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookEndpoint

    url = "http://127.0.0.1:9/hooks"
    description = factory.Sequence(lambda n: f"receiver {n}")
    secret = factory.LazyFunction(generate_secret)


def user_on_two_entitlements(product_code: str = "team") -> tuple[LicenseUser, list[Entitlement]]:
    """A license user who may activate either of two entitlements of one product that
    authorizes by user: a device of theirs may hold a license of each."""
    product = ProductFactory(code=product_code, authorization_method="user")
    user = LicenseUserFactory()
    entitlements = EntitlementFactory.create_batch(2, customer=user.customer, product=product)
    user.entitlements.add(*entitlements)
    return user, entitlements


def grant_features(entitlement: Entitlement, features: dict, **terms) -> Entitlement:
    """Grant `entitlement` the features `{code: value}` of its product (declared as
    needed), through the services, as staff would."""
    from licensing import services
    from licensing.actors import Actor

    actor = Actor.system("test")
    for code, value in features.items():
        feature = ProductFeature.objects.filter(product=entitlement.product, code=code).first()
        feature = feature or services.product_feature_create(
            product_feature=ProductFeature(product=entitlement.product, code=code, name=code.replace("_", " ").title()),
            actor=actor,
        )
        services.entitlement_feature_grant(
            entitlement_feature=EntitlementFeature(entitlement=entitlement, feature=feature, value=value, **terms),
            actor=actor,
        )
    entitlement.refresh_from_db()
    return entitlement
