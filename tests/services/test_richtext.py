"""Rich text: a small safe subset of HTML, plain text as paragraphs."""

from __future__ import annotations

from markupsafe import Markup

from directory.richtext import editable, plain_text, rich_text, sanitize


def test_scripts_and_event_handlers_are_removed():
    html = sanitize('<p onclick="steal()">Bonjour<script>alert(1)</script></p><style>p{}</style>')
    assert html == "<p>Bonjour</p>"


def test_javascript_and_relative_links_lose_their_address():
    html = sanitize(
        '<a href="javascript:alert(1)">a</a><a href=" JaVaScRiPt:alert(1)">b</a>'
        '<a href="data:text/html,x">c</a><a href="/gestion">d</a>'
    )
    assert "href" not in html
    assert "javascript" not in html.lower()


def test_allowed_tags_are_kept_and_links_get_rel():
    html = sanitize(
        "<p>Un <strong>jardin</strong> <em>partagé</em><br>ouvert</p><ul><li>un</li></ul>"
        '<ol><li>deux</li></ol><a href="https://exemple.fr" target="_blank">site</a>'
        '<a href="mailto:contact@exemple.fr">écrire</a>'
    )
    for fragment in ("<strong>jardin</strong>", "<em>partagé</em>", "<br>", "<ul><li>un</li></ul>",
                     "<ol><li>deux</li></ol>"):  # fmt: skip
        assert fragment in html
    assert '<a href="https://exemple.fr" rel="noopener nofollow">site</a>' in html
    assert '<a href="mailto:contact@exemple.fr" rel="noopener nofollow">écrire</a>' in html
    assert "target" not in html


def test_other_tags_are_stripped_but_their_text_kept():
    html = sanitize('<h1>Titre</h1><div class="x"><img src=x onerror=alert(1)>texte</div>')
    assert "<h1>" not in html and "<img" not in html and "<div" not in html
    assert "Titre" in html and "texte" in html


def test_plain_text_becomes_paragraphs():
    assert sanitize("Ligne 1\nLigne 2\n\nSecond paragraphe") == (
        "<p>Ligne 1<br>Ligne 2</p><p>Second paragraphe</p>"
    )
    assert sanitize("a < b & c") == "<p>a &lt; b &amp; c</p>"
    assert sanitize("") == "" and sanitize("   ") == "" and sanitize(None) == ""


def test_inline_markup_keeps_typed_paragraphs():
    assert sanitize("<strong>Ateliers</strong> le mardi\n\nEt le jeudi") == (
        "<p><strong>Ateliers</strong> le mardi</p><p>Et le jeudi</p>"
    )


def test_nul_bytes_are_dropped():
    assert "\x00" not in sanitize("a\x00b")


def test_filter_resanitises_stored_text():
    stored = '<p>ok</p><script>alert(1)</script><a href="javascript:x">l</a>'
    output = rich_text(stored)
    assert isinstance(output, Markup)
    assert "<script" not in output and "javascript" not in output
    # Older plain text (seed) still renders as paragraphs, escaped.
    assert rich_text("Texte <b>gras</b> ?\n\nSuite") == "<p>Texte gras ?</p><p>Suite</p>"
    assert rich_text("Né en 2010.\n\nOuvert à tous.") == "<p>Né en 2010.</p><p>Ouvert à tous.</p>"
    assert rich_text(None) == ""


def test_plain_text_of_rich_text():
    assert plain_text("<p>a &amp; b</p><ul><li>x</li></ul>") == "a & b x"
    assert plain_text('<p>Bienvenue</p><a href="https://a.fr">lien</a>') == "Bienvenue lien"
    assert plain_text("<p>un</p><p>deux<br>trois</p>") == "un deux trois"
    assert plain_text("<script>alert(1)</script>texte") == "texte"
    # Plain text (the seed) is returned as it is.
    assert plain_text("Né en 2010.\n\nOuvert à tous.") == "Né en 2010.\n\nOuvert à tous."


def test_forms_show_simple_paragraphs_as_plain_text_again():
    for text in ("Un samedi par mois.\n\nOuvert à tous.", "Ligne 1\nLigne 2", "a < b & c"):
        assert editable(sanitize(text)) == text
    rich = '<p>Voir <a href="https://x.fr" rel="noopener nofollow">le site</a></p>'
    assert editable(rich) == rich
    assert editable("<p>&lt;b&gt; écrit tel quel</p>") == "<p>&lt;b&gt; écrit tel quel</p>"
    assert editable("Texte ancien\n\nsuite") == "Texte ancien\n\nsuite"
    assert editable(None) == ""
