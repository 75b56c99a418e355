"""The admin's user pages, with the canonical-username rule (accounts.usernames):
adding or renaming a user to a name that is taken in another case or form is a
form error, not a database error."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from .models import UserCanonicalName
from .usernames import canonical

User = get_user_model()


def check_canonical_username_free(form, username: str) -> str:
    taken = UserCanonicalName.objects.filter(canonical=canonical(username))
    if form.instance.pk is not None:
        taken = taken.exclude(user_id=form.instance.pk)
    if taken.exists():
        raise forms.ValidationError("A user with that username already exists (in another case or form).")
    return username


class CanonicalUserCreationForm(AdminUserCreationForm):
    def clean_username(self):
        return check_canonical_username_free(self, super().clean_username())


class CanonicalUserChangeForm(UserChangeForm):
    def clean_username(self):
        return check_canonical_username_free(self, self.cleaned_data["username"])


class CanonicalUserAdmin(UserAdmin):
    add_form = CanonicalUserCreationForm
    form = CanonicalUserChangeForm


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, CanonicalUserAdmin)
