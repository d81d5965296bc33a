"""Lesson notes: one short, collapsible panel per tab, for a teacher projecting the app.

ALL note texts live in STRINGS below (markdown, English and Dutch), keys "notes.<tab>".
Each tab calls `lesson_notes("<tab key>")` once, where the panel should appear.
"""
from __future__ import annotations

import gradio as gr

from demo.i18n import T, add_strings

_NOTES = {
    "notes.title": {"en": "Lesson notes (for the teacher)", "nl": "Lesnotities (voor de docent)"},
    "notes.classify": {
        "en": """
**What happens.** The photo is scaled and centre-cropped to 224 × 224 pixels (*what the model sees*), passes
through the dozens of layers of a network trained on 1.2 million ImageNet photos, and comes out as 1000 probabilities.

**Try.**
1. Click the cat example, then switch *Weights* to **random**: same network, same photo, meaningless answer.
   Everything the network knows is in its weights, and the weights come from training.
2. Under **Where does it look?**, pick another class from the top-5: the heat shows the part of the photo
   that speaks for that class (Grad-CAM: the last layer's 7 × 7 activations, weighted by how much each raises
   that class's score).

**Notice.** The top-5 are often all plausible (tabby, tiger cat, Egyptian cat). A photo of something that is not
one of the 1000 classes still gets an answer: the model can only choose among what it was taught.
""",
        "nl": """
**Wat er gebeurt.** De foto wordt verkleind en in het midden bijgesneden tot 224 × 224 pixels (*wat het model
ziet*). Die gaat door de tientallen lagen van een netwerk dat getraind is op 1,2 miljoen ImageNet-foto's; er
komen 1000 kansen uit, één per klasse.

**Probeer.**
1. Klik op het voorbeeld met de kat en zet *Gewichten* op **willekeurig**: hetzelfde netwerk, dezelfde foto, een
   zinloos antwoord. Alles wat het netwerk weet, zit in zijn gewichten, en die gewichten komen uit de training.
2. Kies bij **Waar kijkt het model?** een andere klasse uit de top-5: de warmtekaart laat zien welk deel van de
   foto voor die klasse pleit (Grad-CAM: de 7 × 7 activaties van de laatste laag, gewogen naar hoeveel elk
   ervan de score van die klasse verhoogt).

**Let op.** Vaak is de hele top-5 aannemelijk (cyperse kat, tijgerkat, Egyptische kat). Een foto van iets
dat niet bij de 1000 klassen hoort, krijgt toch een antwoord: het model kan alleen kiezen uit wat het geleerd heeft.
""",
    },
    "notes.finetune": {
        "en": """
**What happens.** *Frozen* mode keeps the pretrained network as it is and trains only a new last layer (the head)
on your photos: one weight per feature per class. *From scratch* trains the same network from random weights.

**Try.**
1. Train **frozen** on 5 photos per class, then **from scratch** on the same photos (keep earlier runs on the plot).
   Pretrained: right answers on the held-out photos after a few epochs. Scratch: near chance on them (50 % for two
   classes), even when it has learned its few training photos by heart.
2. **How many photos do you need?** draws the learning curve: held-out accuracy against photos per class, for
   pretrained features and for the same network with random weights. The gap between the lines is what
   pretraining on ImageNet is worth; it is largest with few photos.
3. Click a misclassified photo: its heat map shows where the trained model looked ("it said dog because it
   looked here"), often the background or a second animal. The **feature-space map** shows why a straight line
   (the new layer) works: pretrained features already put cats with cats and dogs with dogs; random ones are one
   mixed cloud.

**The challenge: images unlike ImageNet.** Try drawings, X-rays or photos of handwritten text. The features were
learned on photos of objects, so they fit less well: the pretrained curve starts lower and keeps rising with more
photos, the map mixes the classes more, and training the top blocks (or everything) helps more than it does for
pets. The gap to random weights shrinks, but with only a handful of images pretrained usually still wins.
""",
        "nl": """
**Wat er gebeurt.** In de modus *bevroren* blijft het voorgetrainde netwerk zoals het is en traint alleen een
nieuwe laatste laag (de *head*) op jouw foto's: één gewicht per kenmerk per klasse. *Vanaf nul* traint hetzelfde
netwerk vanuit willekeurige gewichten.

**Probeer.**
1. Train **bevroren** op 5 foto's per klasse, daarna **vanaf nul** op dezelfde foto's (laat de eerdere runs in de
   grafiek staan). Voorgetraind: na een paar epochs goede antwoorden op de achtergehouden foto's. Vanaf nul: daarop
   nauwelijks beter dan gokken (50% bij twee klassen), ook als het zijn paar trainingsfoto's uit het hoofd kent.
2. **Hoeveel foto's heb je nodig?** tekent de leercurve: de nauwkeurigheid op achtergehouden foto's tegen het
   aantal foto's per klasse, met voorgetrainde kenmerken en met hetzelfde netwerk met willekeurige gewichten. Het
   gat tussen de lijnen is wat voortrainen op ImageNet waard is; het is het grootst bij weinig foto's.
3. Klik op een fout geclassificeerde foto: de warmtekaart laat zien waar het getrainde model keek ("het zei hond
   omdat het hier keek"), vaak naar de achtergrond of een tweede dier. De **kaart van de kenmerkruimte** laat zien
   waarom een rechte lijn (de nieuwe laag) werkt: voorgetrainde kenmerken zetten katten al bij katten en honden bij
   honden; willekeurige kenmerken geven één gemengde wolk.

**De uitdaging: beelden die niet op ImageNet lijken.** Probeer tekeningen, röntgenfoto's of foto's van
handgeschreven tekst. De kenmerken zijn geleerd op foto's van voorwerpen, dus ze passen minder goed: de
voorgetrainde curve begint lager en blijft stijgen met meer foto's, de kaart haalt de klassen meer door elkaar, en
de bovenste blokken (of alles) bijtrainen helpt meer dan bij huisdieren. Het verschil met willekeurige gewichten
wordt kleiner, maar met maar een handvol beelden wint voorgetraind meestal nog steeds.
""",
    },
    "notes.features": {
        "en": """
**What happens.** Each tile is one channel of one layer: how strongly one learned pattern is present at each place
of the photo. Early layers respond to edges and colours, middle layers to textures and parts, late layers to
whole objects, on a coarser grid (7 × 7 at the end).

**Try.** Compare an early and a late layer of the same photo; then switch to random weights: the early maps still
look like the photo (a blur of it), the late ones become noise.

**Notice.** The last layer's 7 × 7 grid is what the heat maps in Classify are made from: that is why they are blurry.
""",
        "nl": """
**Wat er gebeurt.** Elk tegeltje is één kanaal van één laag: hoe sterk één geleerd patroon op elke plek van de
foto aanwezig is. Vroege lagen reageren op randen en kleuren, middelste lagen op texturen en onderdelen, late
lagen op hele voorwerpen, op een grover raster (7 × 7 aan het eind).

**Probeer.** Vergelijk een vroege en een late laag van dezelfde foto; zet dan de gewichten op willekeurig: de
vroege kaarten lijken nog op de foto (een vage versie ervan), de late worden ruis.

**Let op.** Uit het 7 × 7-raster van de laatste laag worden de warmtekaarten bij Classificeren gemaakt: daarom
zijn die zo vaag.
""",
    },
    "notes.optimize": {
        "en": """
**What happens.** Gradient descent on the *input*: the network stays fixed and the pixels change.

**Ideal image.** Starting from noise, the pixels move to raise one class's score. In **plain pixels** mode the
result looks like noise with a hint of texture: very many inputs excite a class, and most of them look like
nothing to us. The **smoothness** slider (variation loss, or total variation) punishes neighbouring pixels that
differ, and structure appears.

**Adversarial image.** A photo changed by at most 2 of 255 brightness levels per pixel (invisible) is classified as
another class. Compare the heat maps before and after: the photo looks the same, yet the evidence has moved
(the overlap figure says how much). The new class is nowhere in the photo: a pattern too faint to see, spread over
every pixel, adds up in the score. The network does not see the way we do.
""",
        "nl": """
**Wat er gebeurt.** Gradiëntafdaling op de *invoer*: het netwerk blijft vast en de pixels veranderen.

**Ideaal beeld.** Vanuit ruis veranderen de pixels zo dat de score van één klasse stijgt. In de modus **losse
pixels** lijkt het resultaat op ruis met een vleugje textuur: heel veel invoerbeelden activeren een klasse, en de
meeste lijken voor ons op niets. De schuif **gladheid** (variatieverlies, of totale variatie) bestraft
buurpixels die van elkaar verschillen, en dan verschijnt er structuur.

**Misleidend beeld.** Een foto die per pixel hooguit 2 van de 255 helderheidsniveaus is veranderd (onzichtbaar),
wordt als een andere klasse geclassificeerd. Vergelijk de warmtekaarten ervoor en erna: de foto ziet er hetzelfde uit, maar
het bewijs is verschoven (het overlapgetal zegt hoeveel). De nieuwe klasse staat nergens op de foto: een patroon
dat te zwak is om te zien, verspreid over alle pixels, telt op in de score. Het netwerk kijkt niet zoals wij.
""",
    },
}
# Markdown kept readable above; the panel shows it without the surrounding blank lines.
add_strings({key: {lang: text.strip() for lang, text in texts.items()} for key, texts in _NOTES.items()})


def lesson_notes(tab: str, open: bool = False) -> gr.Accordion:  # noqa: A002 - gradio's own name
    """The collapsible notes panel for `tab` ("classify", "finetune", ...), created where it is called."""
    with gr.Accordion(T("notes.title"), open=open, elem_id=f"notes-{tab}", elem_classes=["tll-notes"]) as panel:
        gr.Markdown(T(f"notes.{tab}"))
    return panel
