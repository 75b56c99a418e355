from rest_framework.exceptions import ValidationError
from rest_framework.filters import SearchFilter


class BoundedSearchFilter(SearchFilter):
    """DRF's `?search=` with limits: every term becomes a LIKE clause, and
    thousands of them (or one enormous one) make SQLite refuse the query."""

    max_terms = 10
    max_term_length = 150  # the longest possible username

    def get_search_terms(self, request):
        try:
            terms = super().get_search_terms(request)
        except ValidationError as exc:
            raise ValidationError({self.search_param: exc.detail}) from None
        if len(terms) > self.max_terms:
            raise ValidationError({self.search_param: [f"Use at most {self.max_terms} search terms."]})
        if any(len(term) > self.max_term_length for term in terms):
            raise ValidationError(
                {self.search_param: [f"A search term is at most {self.max_term_length} characters."]}
            )
        return terms
