from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GradingConfig(AppConfig):
    name = "grading"
    verbose_name = _("Grading")

    def ready(self) -> None:
        # Imports here: models are loaded only once the app registry is ready.
        from consent import hooks as consent_hooks

        from . import selectors

        consent_hooks.school_contacts.register(selectors.school_child_teacher_emails)

        # A student with their own account leaves a school: their enrolments in its classes end.
        from schools import hooks as school_hooks

        from . import services

        school_hooks.student_left.register(services.enrollments_end_at_school)
        # A OneRoster import: grading keeps the school's classes and enrolments in line with the file.
        from . import rosters

        school_hooks.roster_classes.register(rosters.roster_classes_sync)

        # Login cards prepared off the request (mindomo.downloads)
        from . import downloads

        downloads.register()

        # The main menu: the school for administrators, classes for teachers, grades for students.
        from mindomo.navigation import registry as navigation

        from . import navigation as menu

        navigation.fact("school_admin", menu.is_school_admin)
        navigation.fact("teacher", menu.is_teacher)
        navigation.fact("student", menu.is_student)
        navigation.items(menu.menu_items)
