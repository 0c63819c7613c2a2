"""Who signs in to the end-user portal, and what the portal tells them."""

from django.db import models

from .base import PortalAccount, normalize_address


class CustomerContact(PortalAccount):
    """A person of a customer who signs in to the portal and sees everything the
    customer is entitled to. Staff create contacts and invite them; the contact then
    chooses a password through the invitation link."""

    resource_name = "customer_contact"

    customer = models.ForeignKey("licensing.Customer", on_delete=models.PROTECT, related_name="contacts")
    email = models.EmailField(unique=True, help_text="The address the contact signs in with and gets mail at.")
    name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(
        "may sign in", default=True, help_text="Untick to stop this person signing in to the portal."
    )
    invited_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["email"]
        verbose_name = "customer contact"

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs) -> None:
        # One spelling per address, so sign-in and uniqueness ignore case.
        self.email = normalize_address(self.email)
        if not self.password:
            self.set_unusable_password()  # until the contact accepts the invitation
        super().save(*args, **kwargs)


class PortalSettings(models.Model):
    """What the portal says on the vendor's behalf: one row, edited in the admin."""

    resource_name = "portal_settings"

    vendor_name = models.CharField(max_length=200, default="Your software vendor")
    contact_message = models.TextField(
        default="To restore access, contact your account manager.",
        help_text="Shown to portal users beside anything disabled or suspended, and on the banner of a disabled "
        "customer: say whom to contact and how, e.g. “Email billing@vendor.example to settle an overdue invoice.”",
    )
    renewal_message = models.TextField(
        default="To renew, contact your account manager.",
        help_text="Shown to portal users beside an entitlement that ends soon (from the first expiry notice on) "
        "or is in its grace period: say how to renew, e.g. “Renew at https://vendor.example/renew.”",
    )
    support_email = models.EmailField(blank=True, help_text="Shown on every portal page when set.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "portal settings"
        verbose_name_plural = "portal settings"

    def __str__(self) -> str:
        return "Portal settings"

    @classmethod
    def current(cls) -> "PortalSettings":
        settings, _ = cls.objects.get_or_create(pk=1)
        return settings
