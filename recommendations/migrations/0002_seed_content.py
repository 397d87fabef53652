"""Seed the advice content for every class the platform ships (facial concerns, HAM10000 lesion
types, acne severity incl. the four ACNE04 grades). Admins edit it afterwards in the admin.

The content is written out here, not imported from the app, so that this migration keeps doing
the same thing whatever the models or texts later become. Reversing removes exactly what this
migration created (matched by natural keys) and leaves anything admins added.
"""

from django.db import migrations

# Shorthands --------------------------------------------------------------------------------
LMH = "lmh"  # severities a tip/product applies to: l(ow), m(edium), h(igh)

FACIAL_ACNE = ["facial/acne"]
ACNE_MILD_MOD = [
    "acne-severity/mild_moderate",
    "acne-severity/levle0_mild",
    "acne-severity/levle1_moderate",
]
ACNE_SEVERE = [
    "acne-severity/severe",
    "acne-severity/levle2_severe",
    "acne-severity/levle3_very_severe",
]
ACNE_ANY = FACIAL_ACNE + ACNE_MILD_MOD + ACNE_SEVERE
CLEAR = ["facial/clear_skin", "facial/normal", "acne-severity/clear"]
PIGMENT = ["facial/dark_spots", "facial/pigmentation"]
WRINKLES = ["facial/wrinkles"]
PUFFY = ["facial/puffy_eyes"]
LESION_REFER = ["lesions/mel", "lesions/bcc", "lesions/akiec"]
LESION_BENIGN = ["lesions/nv", "lesions/bkl", "lesions/df", "lesions/vasc"]
LESIONS = LESION_REFER + LESION_BENIGN

ACNE_CAUSES = (
    "Acne starts in the pores. Oil glands make more oil (sebum) than usual, often because of "
    "hormones: puberty, the menstrual cycle, pregnancy or polycystic ovary syndrome. Dead skin "
    "cells do not shed properly and block the pore, and bacteria that normally live on the skin "
    "multiply inside it and cause inflammation.\n"
    "Other things that can make acne more likely or worse: a family history of acne, some "
    "medicines (for example steroids, some hormonal contraceptives, lithium), heavy or oily "
    "cosmetics and hair products, pressure and friction from masks, helmets, straps or phones, "
    "and, for some people, stress. Acne is not caused by dirt or poor hygiene."
)


def thresholds(medium_from=0.5, high_from=0.8, rationale=""):
    return {
        "mode": "thresholds",
        "medium_from": medium_from,
        "high_from": high_from,
        "fixed_severity": "",
        "rationale": rationale
        or (
            "Severity follows the calibrated probability of this class: below 50 % Low, "
            "50 % to 80 % Medium, 80 % and above High."
        ),
    }


def fixed(severity, rationale):
    return {"mode": "fixed", "fixed_severity": severity, "rationale": rationale}


BENIGN_FIXED = (
    "A benign class: the probability says how sure the model is, not how serious the spot is. "
    "Other classes (melanoma, BCC, AKIEC) raise a referral through their own thresholds."
)

# Categories (slug, name, order, description) -----------------------------------------------
CATEGORIES = [
    ("cleanser", "Cleanser", 10,
     "Removes oil, sweat, sunscreen and make-up without stripping the skin."),
    ("exfoliant", "Exfoliant", 20,
     "Chemical exfoliants loosen dead skin cells; used a few times a week, not daily at first."),
    ("treatment", "Targeted treatment", 30,
     "Products with an active ingredient for one concern, such as acne."),
    ("serum", "Serum", 40,
     "Light, concentrated products applied after cleansing and before moisturiser."),
    ("retinoid", "Retinoid (night)", 50,
     "Vitamin A derivatives used in the evening; not during pregnancy or breastfeeding."),
    ("eye-care", "Eye care", 60, "Products and tools for the thin skin around the eyes."),
    ("moisturiser", "Moisturiser", 70,
     "Keeps skin hydrated and supports the skin barrier, so active ingredients are tolerated."),
    ("sunscreen", "Sunscreen", 80,
     "Broad-spectrum (UVA and UVB) protection; the last step of the morning routine."),
    ("sun-protection", "Sun-protective clothing", 90,
     "Shade, clothing, hats and sunglasses: protection that does not wear off."),
]

# Conditions --------------------------------------------------------------------------------
CONDITIONS = [
    # facial ------------------------------------------------------------------------------
    {
        "task": "facial",
        "key": "acne",
        "display_name": "Acne",
        "order": 10,
        "risk_level": "moderate",
        "refer_to_dermatologist": "when_high",
        "description": (
            "Acne is a very common skin condition in which pores get blocked with oil and dead "
            "skin cells, leading to blackheads, whiteheads and red spots. It is most common in "
            "teenagers but often continues into adulthood or starts later in life.\n"
            "Mild acne usually improves with a steady routine and over-the-counter treatment "
            "used for a few months. Acne that is severe, painful or leaves marks responds well "
            "to prescription treatment."
        ),
        "causes": ACNE_CAUSES,
        "symptoms": (
            "Blackheads (open blocked pores), whiteheads (closed ones), red bumps and spots with "
            "a yellow-white centre, mostly on the face, and often the chest, shoulders and back. "
            "Deep, painful lumps under the skin (nodules or cysts) are a sign of more severe "
            "acne. Spots can leave red or dark marks that fade over months, and sometimes scars."
        ),
        "when_to_see_doctor": (
            "See a doctor or pharmacist if over-the-counter treatment has not helped after 2 to "
            "3 months of regular use, if you have deep painful lumps or cysts, if spots are "
            "leaving scars or dark marks, or if acne is affecting your mood or confidence.\n"
            "See a doctor promptly if acne started suddenly as an adult together with other "
            "changes, such as extra hair growth or irregular periods, or soon after starting a "
            "new medicine."
        ),
        "rule": thresholds(),
    },
    {
        "task": "facial",
        "key": "dark_spots",
        "display_name": "Dark spots",
        "order": 20,
        "risk_level": "low",
        "refer_to_dermatologist": "no",
        "description": (
            "Dark spots (hyperpigmentation) are small, flat areas that are darker than the skin "
            "around them. They are very common and usually harmless. Most are sun spots, or "
            "marks left behind after a spot, cut, burn or rash has healed.\n"
            "They do not need treatment, but they can be faded with daily sun protection and "
            "brightening ingredients used over a few months."
        ),
        "causes": (
            "Years of sun exposure, which makes pigment cells produce extra melanin in patches "
            "(sun spots, also called solar lentigines).\n"
            "Inflammation that leaves a mark as it heals (post-inflammatory hyperpigmentation): "
            "acne, eczema, insect bites, cuts, burns, or harsh products and treatments. These "
            "marks are more common, darker and longer-lasting in medium and dark skin. Picking "
            "at spots makes them more likely. Hormonal changes and some medicines can add to it."
        ),
        "symptoms": (
            "Flat brown, grey-brown or black spots or marks, from a few millimetres to a "
            "centimetre or more, on the face, hands, shoulders or other areas that get sun, or "
            "where a spot or injury used to be. They are not raised, itchy or painful."
        ),
        "when_to_see_doctor": (
            "Have a doctor check a dark spot that is new and growing, raised, has an irregular or "
            "blurred edge, has several colours, bleeds, itches or crusts, or looks different from "
            "your other spots. These can be signs of skin cancer such as melanoma, which can look "
            "like a sun spot at first. Do this before trying to fade it.\n"
            "See a doctor too if dark patches appear suddenly or over large areas of the body."
        ),
        "rule": thresholds(),
    },
    {
        "task": "facial",
        "key": "pigmentation",
        "display_name": "Uneven pigmentation",
        "order": 30,
        "risk_level": "low",
        "refer_to_dermatologist": "no",
        "description": (
            "Uneven pigmentation means larger patches or an overall unevenness of skin colour, "
            "rather than single spots. A common form is melasma: brown or grey-brown patches on "
            "the cheeks, forehead, upper lip or chin, often on both sides of the face.\n"
            "It is harmless, but it can be long-lasting and tends to come back with sun "
            "exposure, so it is kept under control rather than cured."
        ),
        "causes": (
            "Sunlight, including visible light and not only UV, and heat.\n"
            "Hormones: pregnancy, hormonal contraception and hormone therapy commonly trigger "
            "melasma.\n"
            "A genetic tendency: melasma is more common in women and in people with medium to "
            "dark skin.\n"
            "Irritation from harsh products or procedures, and some medicines and cosmetics that "
            "make the skin more sensitive to light."
        ),
        "symptoms": (
            "Flat patches, light to dark brown or grey-brown, often in a matching pattern on both "
            "sides of the face. They are not itchy or painful, and tend to get darker in summer "
            "and lighter in winter."
        ),
        "when_to_see_doctor": (
            "See a doctor if patches spread quickly, are raised, itchy, scaly or sore, if a single "
            "patch is changing, or if pigmentation started after a new medicine.\n"
            "A dermatologist can also help when patches have not improved after 3 months of "
            "daily sun protection and over-the-counter care: prescription creams and supervised "
            "treatments work better, and some home remedies make pigmentation worse."
        ),
        "rule": thresholds(),
    },
    {
        "task": "facial",
        "key": "wrinkles",
        "display_name": "Wrinkles and fine lines",
        "order": 40,
        "risk_level": "low",
        "refer_to_dermatologist": "no",
        "description": (
            "Wrinkles and fine lines are a normal part of skin ageing: over the years the skin "
            "makes less collagen and elastin and becomes thinner and drier. They are not a "
            "health problem.\n"
            "Daily sun protection slows new lines down, and some ingredients, retinoids above "
            "all, can soften fine lines over several months."
        ),
        "causes": (
            "Natural ageing and genetics.\n"
            "Sun exposure over many years (photoageing), the biggest cause you can do something "
            "about.\n"
            "Smoking, repeated facial expressions (frown lines, crow's feet), and dry skin, which "
            "makes fine lines more visible."
        ),
        "symptoms": (
            "Fine lines around the eyes and mouth and on the forehead, deeper creases over time, "
            "and skin that looks thinner, less firm or less even in tone."
        ),
        "when_to_see_doctor": (
            "Wrinkles on their own do not need a doctor. Talk to a dermatologist if you would "
            "like prescription treatment (such as tretinoin) or in-clinic procedures.\n"
            "Have your skin checked if a sun-exposed area also has rough, scaly patches, sores "
            "that do not heal within 3 weeks, or spots that are changing: these are signs of sun "
            "damage that a doctor should see."
        ),
        "rule": thresholds(),
    },
    {
        "task": "facial",
        "key": "puffy_eyes",
        "display_name": "Puffy eyes",
        "order": 50,
        "risk_level": "low",
        "refer_to_dermatologist": "no",
        "description": (
            "Puffy eyes are swelling of the skin around the eyes, usually under them. They are "
            "very common, mostly temporary and harmless: fluid collects in the thin skin around "
            "the eyes, especially overnight.\n"
            "With age, the tissues that support the eyelids weaken and fat can move forward, "
            "which can cause lasting bags."
        ),
        "causes": (
            "Short or poor sleep, or sleeping lying flat; salty food or alcohol in the evening, "
            "which make the body hold water; crying; allergies such as hay fever; rubbing the "
            "eyes; a reaction to eye cosmetics; ageing and inherited features.\n"
            "Less often a medical cause, such as a thyroid, kidney or eye condition."
        ),
        "symptoms": (
            "Soft swelling or bags under or above the eyes, often worse in the morning and better "
            "as the day goes on, sometimes with dark circles."
        ),
        "when_to_see_doctor": (
            "See a doctor if puffiness is new and lasts more than a few weeks, is on one side "
            "only, is painful, red, hot or itchy, comes with changes in your vision or eyes that "
            "seem to bulge, or if you also have swelling elsewhere (for example ankles or legs) "
            "or feel unwell.\n"
            "Get urgent help if swelling comes on suddenly with difficulty breathing or swelling "
            "of the lips, tongue or throat."
        ),
        "rule": thresholds(),
    },
    {
        "task": "facial",
        "key": "clear_skin",
        "display_name": "Clear skin",
        "order": 60,
        "risk_level": "low",
        "refer_to_dermatologist": "no",
        "description": (
            "The analysis did not find a visible concern in this photo: the skin looks clear. "
            "That is a good result, but a photo cannot show everything, and it says nothing "
            "about moles or spots outside the picture."
        ),
        "causes": "",
        "symptoms": (
            "Even texture and tone, without visible spots, patches, lines or puffiness in the "
            "photo."
        ),
        "when_to_see_doctor": (
            "No visit is needed because of this result. See a doctor if you notice a new or "
            "changing mole or spot, a sore that does not heal within 3 weeks, or any skin change "
            "that worries you."
        ),
        "rule": fixed("low", "Nothing to grade: always Low."),
    },
    {
        "task": "facial",
        "key": "normal",
        "display_name": "Normal skin",
        "order": 70,
        "risk_level": "low",
        "refer_to_dermatologist": "no",
        "description": (
            "The analysis found no particular concern: this looks like healthy, normal skin. "
            "Normal skin can still have the odd spot, some dryness or a little shine; that is "
            "expected and nothing to worry about."
        ),
        "causes": "",
        "symptoms": "Skin that is neither very oily nor very dry, with few visible concerns.",
        "when_to_see_doctor": (
            "No visit is needed because of this result. See a doctor if you notice a new or "
            "changing mole or spot, a sore that does not heal within 3 weeks, or any skin change "
            "that worries you."
        ),
        "rule": fixed("low", "Nothing to grade: always Low."),
    },
    # lesions (HAM10000 diagnostic categories) ----------------------------------------------
    {
        "task": "lesions",
        "key": "mel",
        "display_name": "Melanoma",
        "order": 10,
        "risk_level": "high",
        "refer_to_dermatologist": "always",
        "refer_above_probability": 0.15,
        "description": (
            "The analysis found features that look like melanoma. Melanoma is a serious type of "
            "skin cancer that starts in the pigment cells of the skin. It can grow in an existing "
            "mole or appear as a new spot and, unlike most skin spots, it can spread to other "
            "parts of the body.\n"
            "That is why it must be checked quickly. Found early, while it is thin, melanoma is "
            "usually cured by removing it. An automated analysis cannot tell whether a spot is "
            "melanoma: only a dermatologist's examination, usually with a small biopsy, can."
        ),
        "causes": (
            "Ultraviolet light from the sun or sunbeds, especially sunburns and intense exposure "
            "in childhood.\n"
            "The risk is higher with many moles (more than about 50) or unusual moles, fair skin "
            "that burns easily, red or fair hair, freckles, a personal or family history of "
            "melanoma, and a weakened immune system.\n"
            "Melanoma also occurs in darker skin, more often on the palms, soles or under the "
            "nails, and can appear on skin that rarely sees the sun."
        ),
        "symptoms": (
            "A new spot, or a mole that changes. The ABCDE guide: Asymmetry (the two halves look "
            "different), Border (irregular, notched or blurred edge), Colour (several shades of "
            "brown or black, or patches of red, white or blue), Diameter (larger than about 6 mm, "
            "though melanoma can be smaller) and Evolving (changing in size, shape, colour or "
            "height, or starting to itch, crust or bleed).\n"
            "A mole that looks different from all your others (an 'ugly duckling'), or a new dark "
            "streak under a nail, are also warning signs."
        ),
        "when_to_see_doctor": (
            "See a dermatologist or your doctor as soon as possible, within two weeks, and tell "
            "them the spot was flagged as possible melanoma; many health services have a fast "
            "referral route for suspected skin cancer. Do not wait to see whether it changes.\n"
            "Get help urgently if the spot is growing quickly, bleeding, or has become a lump."
        ),
        "rule": fixed(
            "high",
            "Possible melanoma is always shown as High, whatever the probability: a low "
            "probability must not read as reassurance.",
        ),
    },
    {
        "task": "lesions",
        "key": "bcc",
        "display_name": "Basal cell carcinoma",
        "order": 20,
        "risk_level": "high",
        "refer_to_dermatologist": "always",
        "refer_above_probability": 0.25,
        "description": (
            "The analysis found features that look like basal cell carcinoma (BCC), the most "
            "common type of skin cancer. It grows slowly and very rarely spreads to other parts "
            "of the body, but it keeps growing into the surrounding skin if left alone, so it "
            "needs treatment.\n"
            "Found early, it can almost always be cured, often with a small procedure. Only a "
            "doctor can confirm it, usually by examining it and sometimes with a biopsy."
        ),
        "causes": (
            "Mainly ultraviolet light from the sun or sunbeds: years of exposure, and sunburns.\n"
            "It is more common with age, in fair skin that burns easily, in people who had a lot "
            "of sun in childhood or work outdoors, after radiotherapy, with a weakened immune "
            "system, and in some inherited conditions."
        ),
        "symptoms": (
            "A small shiny or pearly bump, pink or skin-coloured (brown or black in some people, "
            "especially with darker skin), often with tiny visible blood vessels; or a flat, "
            "scaly, red patch; or a sore that bleeds, crusts, seems to heal and then comes back.\n"
            "Usually on sun-exposed skin: the face, ears, neck, scalp and shoulders. It is usually "
            "painless."
        ),
        "when_to_see_doctor": (
            "Make an appointment with a dermatologist or your doctor within the next couple of "
            "weeks, and show them this spot. Do not wait for it to grow or bleed; smaller BCCs are "
            "easier to treat.\n"
            "Go sooner if it is growing quickly or bleeding."
        ),
        "rule": thresholds(
            0.0,
            0.5,
            "Malignant: never shown as Low. Medium below 50 %, High from 50 %.",
        ),
    },
    {
        "task": "lesions",
        "key": "akiec",
        "display_name": "Actinic keratosis or intraepithelial carcinoma",
        "order": 30,
        "risk_level": "high",
        "refer_to_dermatologist": "always",
        "refer_above_probability": 0.25,
        "description": (
            "The analysis found features that look like an actinic keratosis or an "
            "intraepithelial carcinoma (Bowen's disease). Both come from sun damage.\n"
            "Actinic keratoses are rough, scaly patches; they are pre-cancerous, which means a "
            "small share of them can turn into a skin cancer called squamous cell carcinoma. "
            "Bowen's disease is an early form of that skin cancer that is still limited to the "
            "top layer of the skin.\n"
            "Both are very treatable, especially early, but they need a doctor's diagnosis and "
            "treatment, usually with a cream, freezing or a minor procedure."
        ),
        "causes": (
            "Long-term exposure to ultraviolet light from the sun or sunbeds.\n"
            "They are more common with age, in fair skin that burns easily, in people who work "
            "or spend a lot of time outdoors, and in people with a weakened immune system (for "
            "example after an organ transplant)."
        ),
        "symptoms": (
            "Rough, dry, scaly or crusty patches that often feel like sandpaper, from a few "
            "millimetres to a couple of centimetres, pink, red or skin-coloured, on sun-exposed "
            "skin: the face, scalp, ears, backs of the hands and forearms. They may itch or "
            "sting, and can come and go.\n"
            "Bowen's disease is usually a slowly growing, flat, red, scaly patch."
        ),
        "when_to_see_doctor": (
            "Have a dermatologist or your doctor look at this within the next few weeks.\n"
            "Go sooner if the patch is growing quickly, becoming thick, raised or tender, "
            "bleeding, or turning into an open sore: these can be signs that it has become a "
            "squamous cell carcinoma."
        ),
        "rule": thresholds(
            0.0,
            0.6,
            "Pre-malignant or early malignant: never shown as Low. Medium below 60 %, High from "
            "60 %.",
        ),
    },
    {
        "task": "lesions",
        "key": "nv",
        "display_name": "Mole (melanocytic naevus)",
        "order": 40,
        "risk_level": "low",
        "refer_to_dermatologist": "no",
        "description": (
            "A melanocytic naevus (nevus) is the medical name for an ordinary mole: a harmless "
            "cluster of pigment cells. Most adults have between 10 and 40 moles, and very few "
            "ever turn into melanoma.\n"
            "Moles do not need treatment, but it is worth knowing what yours look like so that "
            "you notice if one changes."
        ),
        "causes": (
            "Moles come from clusters of pigment cells (melanocytes). How many you have depends "
            "mostly on your genes and on sun exposure in childhood. New moles commonly appear "
            "until about the age of 30 to 40."
        ),
        "symptoms": (
            "A round or oval spot, flat or raised, evenly brown, tan, pink or skin-coloured, with "
            "a smooth, regular edge, usually smaller than 6 mm, that stays the same over months "
            "and years."
        ),
        "when_to_see_doctor": (
            "Have a mole checked if it changes (ABCDE: Asymmetry, irregular Border, several "
            "Colours, Diameter over 6 mm, Evolving), if it bleeds, itches, crusts or becomes "
            "painful, if a new mole appears after about the age of 40, or if it looks different "
            "from your other moles.\n"
            "If in doubt, have it checked: an automated analysis can be wrong."
        ),
        "rule": fixed("low", BENIGN_FIXED),
    },
    {
        "task": "lesions",
        "key": "bkl",
        "display_name": "Benign keratosis",
        "order": 50,
        "risk_level": "low",
        "refer_to_dermatologist": "no",
        "description": (
            "Benign keratoses are harmless growths on the surface of the skin. This group "
            "includes seborrhoeic keratoses (sometimes called age warts), flat sun spots (solar "
            "lentigines) and lichen planus-like keratoses. They are very common after the age of "
            "40, are not cancer and do not turn into cancer.\n"
            "They need no treatment unless they are irritated or you would like them removed. "
            "Because some can look like melanoma, a new or changing one should be checked."
        ),
        "causes": (
            "Seborrhoeic keratoses come with age and run in families; they are not caused by an "
            "infection and cannot spread to other people.\n"
            "Sun spots come from years of sun exposure. A lichen planus-like keratosis is "
            "thought to be a sun spot or keratosis that becomes inflamed as the body clears it."
        ),
        "symptoms": (
            "Seborrhoeic keratoses: raised, waxy or rough growths that look stuck on to the skin, "
            "light brown to black, from a few millimetres to a few centimetres, often on the "
            "chest, back, face or scalp. Sun spots: flat, evenly brown patches on sun-exposed "
            "skin.\n"
            "They can itch, catch on clothing, or bleed when scratched."
        ),
        "when_to_see_doctor": (
            "See a doctor if a growth appears quickly, changes in size, shape or colour, is very "
            "dark or has several colours, bleeds without being injured, or is sore or inflamed, "
            "or if many appear suddenly.\n"
            "Because these can look like melanoma, have any new or changing one checked."
        ),
        "rule": fixed("low", BENIGN_FIXED),
    },
    {
        "task": "lesions",
        "key": "df",
        "display_name": "Dermatofibroma",
        "order": 60,
        "risk_level": "low",
        "refer_to_dermatologist": "no",
        "description": (
            "A dermatofibroma is a small, firm, harmless bump in the skin made of fibrous "
            "tissue. It is common, especially on the legs, and does not turn into cancer. It "
            "usually stays for years and needs no treatment."
        ),
        "causes": (
            "Not fully understood. Many seem to follow a minor injury such as an insect bite, a "
            "splinter or a shaving nick. They are more common in women and in young and "
            "middle-aged adults."
        ),
        "symptoms": (
            "A firm bump, usually under 1 cm, pink, red-brown or brown, often paler in the "
            "centre. It feels like a small hard lump in the skin and dimples inwards when you "
            "pinch the skin around it. It may itch or be tender when knocked."
        ),
        "when_to_see_doctor": (
            "See a doctor if the bump grows larger than about 1 to 2 cm or keeps growing, "
            "changes colour, bleeds, breaks open or becomes painful, or if you are not sure what "
            "it is."
        ),
        "rule": fixed("low", BENIGN_FIXED),
    },
    {
        "task": "lesions",
        "key": "vasc",
        "display_name": "Vascular lesion",
        "order": 70,
        "risk_level": "low",
        "refer_to_dermatologist": "no",
        "description": (
            "Vascular lesions are spots made of small blood vessels. This group includes cherry "
            "angiomas (bright red dots), angiokeratomas, pyogenic granulomas and small bleeds "
            "under the skin. Most are harmless and very common, cherry angiomas especially after "
            "the age of 30.\n"
            "They need no treatment unless they bleed or bother you."
        ),
        "causes": (
            "Cherry angiomas come with age and run in families. Pyogenic granulomas often grow "
            "after a minor injury, or during pregnancy. A bleed under the skin can follow a knock "
            "or pressure, including under a nail."
        ),
        "symptoms": (
            "Small, smooth, bright red to purple spots, flat or dome-shaped, usually a few "
            "millimetres across, often on the trunk and arms. A pyogenic granuloma is a "
            "fast-growing, shiny red lump that bleeds easily."
        ),
        "when_to_see_doctor": (
            "See a doctor if a red or purple spot grows quickly, bleeds easily or again and "
            "again, is painful, or if many appear suddenly.\n"
            "A dark spot under a nail that does not grow out with the nail, or a dark spot with "
            "no knock to explain it, should also be checked: melanoma can occasionally look like "
            "a vascular lesion."
        ),
        "rule": fixed("low", BENIGN_FIXED),
    },
    # acne severity (three classes, and the four ACNE04 / Hayashi grades) --------------------
    {
        "task": "acne-severity",
        "key": "clear",
        "display_name": "Clear skin (no active acne)",
        "order": 10,
        "risk_level": "low",
        "refer_to_dermatologist": "no",
        "description": (
            "The analysis found no visible active acne in this photo. A few marks or the "
            "occasional spot can still be there; that is normal."
        ),
        "causes": "",
        "symptoms": "Few or no blackheads, whiteheads or red spots.",
        "when_to_see_doctor": (
            "No visit is needed because of this result. If you are using acne treatment, keep "
            "going as advised: acne often comes back when treatment stops too early.\n"
            "See a doctor if marks or scars left by acne bother you; there are treatments for "
            "them."
        ),
        "rule": fixed("low", "A grade: always Low."),
    },
    {
        "task": "acne-severity",
        "key": "mild_moderate",
        "display_name": "Mild to moderate acne",
        "order": 20,
        "risk_level": "moderate",
        "refer_to_dermatologist": "no",
        "description": (
            "Mild to moderate acne means blackheads, whiteheads and red spots, with few or no "
            "deep, painful lumps. It is the most common form of acne.\n"
            "It usually improves with a steady routine and over-the-counter treatment, such as "
            "benzoyl peroxide, adapalene, salicylic acid or azelaic acid, used for at least 8 to "
            "12 weeks."
        ),
        "causes": ACNE_CAUSES,
        "symptoms": (
            "Blackheads and whiteheads, red bumps and pus-filled spots on the face, and sometimes "
            "the chest and back, with few or no nodules or cysts."
        ),
        "when_to_see_doctor": (
            "See a doctor or pharmacist if there is no improvement after 2 to 3 months of regular "
            "over-the-counter treatment, if spots start leaving scars or dark marks, if deeper "
            "painful lumps appear, or if acne is affecting how you feel. Prescription treatments "
            "(combination creams, antibiotics, hormonal treatment) work well."
        ),
        "rule": fixed("medium", "A grade: always Medium."),
    },
    {
        "task": "acne-severity",
        "key": "severe",
        "display_name": "Severe acne",
        "order": 30,
        "risk_level": "high",
        "refer_to_dermatologist": "always",
        "description": (
            "Severe acne means many inflamed spots, often with deep, painful lumps (nodules) or "
            "cysts, sometimes spreading to the chest and back. It carries a high risk of lasting "
            "scars, and over-the-counter products alone are rarely enough.\n"
            "It responds well to prescription treatment, so it is worth seeing a doctor now "
            "rather than waiting."
        ),
        "causes": ACNE_CAUSES,
        "symptoms": (
            "Many red, inflamed spots and pustules, deep painful lumps or cysts under the skin, "
            "spots that merge together, and scars or dark marks."
        ),
        "when_to_see_doctor": (
            "See a doctor or a dermatologist soon. Severe acne can leave permanent scars, and "
            "effective prescription options exist: for example creams combined with an "
            "antibiotic taken by mouth, hormonal treatment, or isotretinoin under a "
            "dermatologist's supervision.\n"
            "Get medical advice the same day if severe acne comes on suddenly with fever, "
            "painful joints or feeling unwell."
        ),
        "rule": fixed("high", "A grade: always High."),
    },
    {
        "task": "acne-severity",
        "key": "levle0_mild",
        "display_name": "Mild acne (grade 0)",
        "order": 40,
        "risk_level": "low",
        "refer_to_dermatologist": "no",
        "description": (
            "Mild acne: mostly blackheads and whiteheads with a few inflamed spots (up to about "
            "five on one side of the face, in the Hayashi grading this model was trained on).\n"
            "It usually responds to a steady routine and over-the-counter treatment within 8 to "
            "12 weeks."
        ),
        "causes": ACNE_CAUSES,
        "symptoms": "Blackheads, whiteheads and a few small red or pus-filled spots.",
        "when_to_see_doctor": (
            "See a pharmacist or doctor if there is no improvement after 2 to 3 months of "
            "regular over-the-counter treatment, if spots leave marks or scars, or if acne is "
            "getting you down."
        ),
        "rule": fixed("low", "An ACNE04 grade: always Low."),
    },
    {
        "task": "acne-severity",
        "key": "levle1_moderate",
        "display_name": "Moderate acne (grade 1)",
        "order": 50,
        "risk_level": "moderate",
        "refer_to_dermatologist": "no",
        "description": (
            "Moderate acne: a noticeable number of inflamed spots (roughly 6 to 20 on one side "
            "of the face, in the Hayashi grading this model was trained on), with blackheads and "
            "whiteheads.\n"
            "It often improves with consistent over-the-counter treatment; if it does not, "
            "prescription treatment works well."
        ),
        "causes": ACNE_CAUSES,
        "symptoms": (
            "Many blackheads and whiteheads, red bumps and pus-filled spots; occasionally a "
            "deeper, sore spot."
        ),
        "when_to_see_doctor": (
            "See a doctor if there is no clear improvement after 2 to 3 months of regular "
            "treatment, if spots leave scars or dark marks, if painful deep lumps appear, or if "
            "acne is affecting your mood or confidence."
        ),
        "rule": fixed("medium", "An ACNE04 grade: always Medium."),
    },
    {
        "task": "acne-severity",
        "key": "levle2_severe",
        "display_name": "Severe acne (grade 2)",
        "order": 60,
        "risk_level": "high",
        "refer_to_dermatologist": "always",
        "description": (
            "Severe acne: many inflamed spots (roughly 21 to 50 on one side of the face, in the "
            "Hayashi grading this model was trained on), often with deeper, painful lumps.\n"
            "Acne this widespread has a high risk of scarring and usually needs prescription "
            "treatment, so it is worth seeing a doctor now."
        ),
        "causes": ACNE_CAUSES,
        "symptoms": (
            "Many inflamed red spots and pustules over large parts of the face, often with "
            "nodules, and marks or scars."
        ),
        "when_to_see_doctor": (
            "See a doctor or a dermatologist soon. Prescription options, such as combination "
            "creams with an antibiotic taken by mouth, hormonal treatment or isotretinoin, work "
            "far better than more over-the-counter products, and treating early limits "
            "scarring."
        ),
        "rule": fixed("high", "An ACNE04 grade: always High."),
    },
    {
        "task": "acne-severity",
        "key": "levle3_very_severe",
        "display_name": "Very severe acne (grade 3)",
        "order": 70,
        "risk_level": "high",
        "refer_to_dermatologist": "always",
        "description": (
            "Very severe acne: a large number of inflamed spots (more than about 50 on one side "
            "of the face, in the Hayashi grading this model was trained on), usually with "
            "nodules and cysts.\n"
            "It carries a high risk of permanent scarring and needs a doctor's treatment; "
            "dermatologists treat it effectively, often with isotretinoin."
        ),
        "causes": ACNE_CAUSES,
        "symptoms": (
            "Widespread inflamed spots, deep painful nodules and cysts that may join together, "
            "and scarring."
        ),
        "when_to_see_doctor": (
            "See a doctor soon and ask about a referral to a dermatologist. Get medical advice "
            "the same day if it came on suddenly with fever, painful joints or feeling unwell."
        ),
        "rule": fixed("high", "An ACNE04 grade: always High."),
    },
]

# Tips (text, conditions, severities, order) ------------------------------------------------
TIPS = [
    # acne
    (
        "Wash your face twice a day and after sweating, with lukewarm water and a gentle "
        "cleanser. Scrubbing and harsh soaps do not clear acne and can make it worse.",
        ACNE_ANY, LMH, 10,
    ),
    (
        "Try not to squeeze, pick or pop spots: it pushes inflammation deeper and makes dark "
        "marks and scars more likely.",
        ACNE_ANY, LMH, 20,
    ),
    (
        "Choose moisturiser, sunscreen and make-up labelled non-comedogenic or oil-free, and "
        "take make-up off before bed.",
        ACNE_ANY, LMH, 30,
    ),
    (
        "Give a new treatment 8 to 12 weeks before judging it, add one product at a time, and "
        "expect some dryness or redness in the first weeks.",
        FACIAL_ACNE + ACNE_MILD_MOD, LMH, 40,
    ),
    (
        "Start benzoyl peroxide or adapalene two or three evenings a week and build up to daily "
        "as your skin gets used to it. Apply it to the whole area where spots appear, not only "
        "to single spots.",
        FACIAL_ACNE + ACNE_MILD_MOD, "mh", 50,
    ),
    (
        "Keep hair products off your face, wash pillowcases and face cloths often, and clean "
        "your phone screen. Friction and pressure from helmets, straps or masks can also "
        "trigger spots.",
        ACNE_ANY, LMH, 60,
    ),
    (
        "Some people find that sugary foods or a lot of milk make their acne worse. The "
        "evidence is mixed, so notice what seems to matter for you rather than cutting out "
        "whole food groups.",
        ACNE_ANY, LMH, 70,
    ),
    (
        "Deep, painful lumps, scarring, or spots that keep coming back are a reason to see a "
        "doctor now: prescription treatment works better than adding more over-the-counter "
        "products.",
        FACIAL_ACNE + ACNE_SEVERE, "h", 80,
    ),
    (
        "Do not try to squeeze or drain cysts and nodules yourself; a doctor can treat a very "
        "painful one quickly and safely.",
        ACNE_SEVERE, LMH, 90,
    ),
    (
        "If you are prescribed isotretinoin or another treatment that dries the skin, use a "
        "plain moisturiser and lip balm several times a day, and follow your doctor's advice "
        "on pregnancy prevention and check-ups.",
        ACNE_SEVERE, LMH, 100,
    ),
    (
        "Acne can affect mood and confidence. If it is getting you down, tell your doctor: "
        "that alone is a good reason for treatment.",
        ACNE_ANY, LMH, 110,
    ),
    (
        "If your acne cleared with treatment, keep to the routine your doctor or pharmacist "
        "suggested (often a retinoid such as adapalene a few nights a week): stopping too early "
        "is the most common reason acne comes back.",
        ["acne-severity/clear"], LMH, 5,
    ),
    # clear / normal
    (
        "Keep your routine simple: a gentle cleanser, a moisturiser that suits your skin, and "
        "sunscreen in the daytime.",
        CLEAR, LMH, 10,
    ),
    (
        "Wear a broad-spectrum sunscreen of SPF 30 or higher on your face, neck and hands every "
        "day, and reapply every two hours when you are outdoors. It is the best way to keep skin "
        "even-toned and to slow visible ageing.",
        CLEAR, LMH, 20,
    ),
    (
        "Not smoking, sleeping well and staying active all show in your skin.",
        CLEAR, LMH, 30,
    ),
    (
        "Once a month, look over your whole skin, including moles, so that you notice anything "
        "new or changing.",
        CLEAR, LMH, 40,
    ),
    # dark spots and pigmentation
    (
        "Wear a broad-spectrum sunscreen of SPF 30 or higher every day, even when it is cloudy, "
        "and reapply every two hours outdoors. Sunlight darkens spots and can undo weeks of "
        "fading treatment in a few days.",
        PIGMENT, LMH, 10,
    ),
    (
        "Add a wide-brimmed hat and shade in the middle of the day. For patchy pigmentation, a "
        "tinted sunscreen containing iron oxides also blocks visible light, which can darken "
        "it.",
        PIGMENT, LMH, 20,
    ),
    (
        "Be patient: brightening ingredients take 8 to 12 weeks of daily use to show a "
        "difference, and the results fade if sun protection stops.",
        PIGMENT, LMH, 30,
    ),
    (
        "Use one brightening ingredient at a time (for example azelaic acid, niacinamide or "
        "vitamin C) and add another only once your skin is comfortable. Irritation can cause "
        "new dark marks.",
        PIGMENT, "mh", 40,
    ),
    (
        "Avoid lemon juice, baking soda, harsh scrubs and skin-lightening creams of unknown "
        "content (some sold online contain mercury or strong steroids). They irritate or harm "
        "the skin and can make pigmentation worse. Use hydroquinone only if a doctor prescribes "
        "it.",
        PIGMENT, LMH, 50,
    ),
    (
        "If the patches started during pregnancy or after starting hormonal contraception, "
        "mention it to your doctor. Pregnancy-related patches often fade afterwards but can "
        "return with sun.",
        ["facial/pigmentation"], LMH, 60,
    ),
    (
        "For marked or stubborn pigmentation, a dermatologist can offer prescription creams "
        "and supervised treatments that work better than over-the-counter products.",
        PIGMENT, "h", 70,
    ),
    (
        "If a dark spot is new, growing, raised or unlike your other spots, have it checked "
        "before trying to fade it.",
        ["facial/dark_spots"], LMH, 15,
    ),
    # wrinkles
    (
        "A broad-spectrum sunscreen of SPF 30 or higher every day is the most effective way to "
        "prevent new lines and slow further ageing.",
        WRINKLES, LMH, 10,
    ),
    (
        "Moisturise morning and evening: well-hydrated skin makes fine lines less visible.",
        WRINKLES, LMH, 20,
    ),
    (
        "A retinoid at night (such as retinol) is the best-studied over-the-counter option for "
        "fine lines. Start two or three nights a week with a pea-sized amount for the whole "
        "face, and do not use it during pregnancy.",
        WRINKLES, "mh", 30,
    ),
    (
        "If you smoke, stopping is one of the best things you can do for your skin, as for the "
        "rest of your health.",
        WRINKLES, LMH, 40,
    ),
    (
        "For deeper lines, a dermatologist can discuss prescription retinoids (such as "
        "tretinoin) and in-clinic treatments.",
        WRINKLES, "h", 50,
    ),
    # puffy eyes
    (
        "Aim for 7 to 9 hours of sleep. If puffiness is worst in the morning, raise your head "
        "slightly with an extra pillow.",
        PUFFY, LMH, 10,
    ),
    (
        "Cut down on salty food and alcohol in the evening; both make the body hold on to "
        "water.",
        PUFFY, LMH, 20,
    ),
    (
        "A cool compress (a clean cloth rinsed in cold water, or chilled eye pads) for a few "
        "minutes in the morning reduces swelling.",
        PUFFY, LMH, 30,
    ),
    (
        "Try not to rub your eyes. If hay fever or another allergy makes them puffy, ask a "
        "pharmacist about an antihistamine.",
        PUFFY, LMH, 40,
    ),
    (
        "Take eye make-up off gently every night, and stop any new eye cream or make-up that "
        "stings or makes the swelling worse.",
        PUFFY, LMH, 50,
    ),
    (
        "Puffiness that is new, on one side only, painful, or that comes with swelling "
        "elsewhere in the body should be checked by a doctor.",
        PUFFY, "h", 60,
    ),
    # lesions that always need a dermatologist
    (
        "Book an appointment with a dermatologist or your doctor now. Tell them a skin check "
        "flagged this spot, and bring this result.",
        LESION_REFER, LMH, 10,
    ),
    (
        "Before the appointment, take a clear, well-lit photo of the spot with a ruler or coin "
        "beside it, so that any change can be measured.",
        LESION_REFER, LMH, 20,
    ),
    (
        "Do not try to remove, freeze, burn or cut the spot yourself, and do not rely on creams "
        "or home remedies to treat it.",
        LESION_REFER, LMH, 30,
    ),
    (
        "Protect your skin from the sun: seek shade around midday, cover up with clothing and a "
        "hat, use a broad-spectrum SPF 50 sunscreen on exposed skin, and never use sunbeds. "
        "This limits new damage; it does not treat an existing spot.",
        LESIONS, LMH, 40,
    ),
    (
        "Check the rest of your skin, including your back, scalp, soles and between the toes "
        "(use a mirror or ask someone to help), and show the doctor any other spot that is new "
        "or changing.",
        LESION_REFER, LMH, 50,
    ),
    # usually benign lesions
    (
        "Check your skin once a month with the ABCDE guide: Asymmetry, irregular Border, "
        "several Colours, Diameter over 6 mm, and Evolving (any change in size, shape, colour "
        "or feel). See a doctor about any spot that ticks one of these boxes.",
        LESION_BENIGN, LMH, 10,
    ),
    (
        "Take a photo of the spot now, with a ruler beside it, and compare every few months. A "
        "spot that changes should be checked.",
        LESION_BENIGN, LMH, 20,
    ),
    (
        "If you are unsure, have it checked: an automated analysis can be wrong, and a doctor "
        "can often tell at a glance.",
        LESION_BENIGN, LMH, 30,
    ),
    (
        "Moles that are often rubbed by clothing or shaved over can get irritated. That is not "
        "dangerous in itself, but see a doctor if a mole keeps bleeding or changes.",
        ["lesions/nv"], LMH, 50,
    ),
    (
        "Try not to scratch or pick at seborrhoeic keratoses: they can bleed and become "
        "inflamed. A doctor can remove ones that itch or catch on clothing.",
        ["lesions/bkl"], LMH, 50,
    ),
    (
        "Dermatofibromas are easily nicked when shaving; shave carefully around them. Removing "
        "one leaves a scar that is often more noticeable than the bump.",
        ["lesions/df"], LMH, 50,
    ),
    (
        "Spots made of blood vessels can bleed a lot if knocked. If one bleeds, press on it "
        "firmly with a clean cloth for 10 minutes, and see a doctor if it keeps bleeding.",
        ["lesions/vasc"], LMH, 50,
    ),
]

# Products (category level, no brands) ------------------------------------------------------
PRODUCTS = [
    {
        "name": "Gentle non-soap cleanser",
        "category": "cleanser",
        "order": 10,
        "key_ingredients": "glycerin, ceramides, mild non-soap surfactants",
        "skin_types": "",
        "usage": (
            "Morning and evening with lukewarm water; pat dry with a clean towel. Fragrance-free "
            "is the safest choice for sensitive skin."
        ),
        "conditions": ACNE_ANY + CLEAR + PIGMENT + WRINKLES,
        "severities": LMH,
    },
    {
        "name": "Salicylic acid cleanser (0.5–2 %)",
        "category": "cleanser",
        "order": 20,
        "key_ingredients": "salicylic acid (BHA)",
        "skin_types": "",
        "usage": (
            "Once a day to start, left on for 30 to 60 seconds before rinsing; it helps unblock "
            "pores and reduce blackheads. It can be drying: skip a day if your skin stings."
        ),
        "conditions": FACIAL_ACNE + ACNE_MILD_MOD,
        "severities": LMH,
    },
    {
        "name": "Glycolic acid exfoliant (5–10 %)",
        "category": "exfoliant",
        "order": 10,
        "key_ingredients": "glycolic acid (AHA)",
        "skin_types": "I,II,III",
        "usage": (
            "Two or three evenings a week, not on the same night as a retinoid. It makes skin "
            "more sensitive to the sun, so wear sunscreen every day."
        ),
        "conditions": PIGMENT + WRINKLES,
        "severities": "mh",
    },
    {
        "name": "Gentle exfoliant with mandelic or lactic acid",
        "category": "exfoliant",
        "order": 20,
        "key_ingredients": "mandelic acid, lactic acid (AHA)",
        "skin_types": "IV,V,VI",
        "usage": (
            "Once or twice a week to start. These acids work more gently than glycolic acid, "
            "which matters for medium to dark skin, where irritation can leave new dark marks. "
            "Wear sunscreen every day."
        ),
        "conditions": PIGMENT + WRINKLES,
        "severities": "mh",
    },
    {
        "name": "Benzoyl peroxide gel or wash (2.5–5 %)",
        "category": "treatment",
        "order": 10,
        "key_ingredients": "benzoyl peroxide",
        "skin_types": "",
        "usage": (
            "A thin layer over the whole affected area once a day after cleansing, every other "
            "day at first. 2.5 % works about as well as stronger versions with less irritation. "
            "It bleaches towels, pillowcases and clothes. If you are on prescription treatment, "
            "ask your doctor before adding it."
        ),
        "conditions": ACNE_ANY,
        "severities": LMH,
    },
    {
        "name": "Adapalene 0.1 % gel",
        "category": "treatment",
        "order": 20,
        "key_ingredients": "adapalene (a retinoid)",
        "skin_types": "",
        "usage": (
            "A pea-sized amount over the whole area in the evening, two or three times a week at "
            "first, then nightly. Improvement takes 8 to 12 weeks; wear sunscreen in the day. Do "
            "not use it if you are pregnant or trying to get pregnant."
        ),
        "conditions": FACIAL_ACNE + ACNE_MILD_MOD,
        "severities": "mh",
    },
    {
        "name": "Azelaic acid cream or gel (10–20 %)",
        "category": "treatment",
        "order": 30,
        "key_ingredients": "azelaic acid",
        "skin_types": "",
        "usage": (
            "Once or twice a day on the affected area. It helps with both spots and the dark "
            "marks they leave, and most skin tolerates it well; a mild tingle at first is common. "
            "Stronger versions need a prescription in some countries."
        ),
        "conditions": FACIAL_ACNE + ACNE_MILD_MOD + PIGMENT,
        "severities": LMH,
    },
    {
        "name": "Hydrocolloid spot patches",
        "category": "treatment",
        "order": 40,
        "key_ingredients": "hydrocolloid",
        "skin_types": "",
        "usage": (
            "Cover a single inflamed or pus-filled spot overnight: the patch absorbs fluid and "
            "stops you picking. Not for deep, painful lumps."
        ),
        "conditions": FACIAL_ACNE + ACNE_MILD_MOD,
        "severities": LMH,
    },
    {
        "name": "Niacinamide serum (4–5 %)",
        "category": "serum",
        "order": 10,
        "key_ingredients": "niacinamide (vitamin B3)",
        "skin_types": "",
        "usage": (
            "Once or twice a day after cleansing. It helps even out skin tone and calm redness, "
            "is well tolerated, and combines easily with other products."
        ),
        "conditions": PIGMENT + FACIAL_ACNE + ACNE_MILD_MOD,
        "severities": LMH,
    },
    {
        "name": "Vitamin C serum (10–20 %)",
        "category": "serum",
        "order": 20,
        "key_ingredients": "ascorbic acid or a stable derivative, vitamin E, ferulic acid",
        "skin_types": "",
        "usage": (
            "In the morning, under sunscreen. An antioxidant that helps fade dark spots and "
            "supports sun protection. Keep it closed and away from light; replace it once it "
            "turns dark orange."
        ),
        "conditions": PIGMENT + WRINKLES,
        "severities": LMH,
    },
    {
        "name": "Tranexamic acid serum (2–5 %)",
        "category": "serum",
        "order": 30,
        "key_ingredients": "tranexamic acid",
        "skin_types": "",
        "usage": (
            "Once or twice a day on patchy pigmentation; it can be combined with niacinamide. "
            "Evidence for melasma-type patches is promising; give it 8 to 12 weeks."
        ),
        "conditions": ["facial/pigmentation"],
        "severities": "mh",
    },
    {
        "name": "Hyaluronic acid serum",
        "category": "serum",
        "order": 40,
        "key_ingredients": "hyaluronic acid, glycerin",
        "skin_types": "",
        "usage": (
            "On damp skin, morning or evening, before moisturiser. It draws water into the skin "
            "and plumps fine lines; the effect is immediate but temporary."
        ),
        "conditions": WRINKLES,
        "severities": LMH,
    },
    {
        "name": "Retinol serum or cream (0.25–1 %)",
        "category": "retinoid",
        "order": 10,
        "key_ingredients": "retinol or retinal",
        "skin_types": "",
        "usage": (
            "A pea-sized amount for the whole face in the evening, two or three times a week at "
            "first, building up slowly; some dryness at the start is common. Wear sunscreen in "
            "the day. Not during pregnancy or breastfeeding."
        ),
        "conditions": WRINKLES + PIGMENT,
        "severities": "mh",
    },
    {
        "name": "Caffeine eye serum or gel",
        "category": "eye-care",
        "order": 10,
        "key_ingredients": "caffeine",
        "skin_types": "",
        "usage": (
            "Tap a small amount gently along the eye bone in the morning; keeping it in the "
            "fridge adds a cooling effect. The effect is mild and short-lived."
        ),
        "conditions": PUFFY,
        "severities": LMH,
    },
    {
        "name": "Cooling eye gel pads or a reusable cold eye mask",
        "category": "eye-care",
        "order": 20,
        "key_ingredients": "",
        "skin_types": "",
        "usage": "Chill in the fridge (not the freezer) and apply for 5 to 10 minutes in the morning.",
        "conditions": PUFFY,
        "severities": LMH,
    },
    {
        "name": "Fragrance-free eye cream",
        "category": "eye-care",
        "order": 30,
        "key_ingredients": "ceramides, glycerin, peptides",
        "skin_types": "",
        "usage": (
            "A small amount once or twice a day. Fragrance-free formulas are less likely to "
            "irritate the thin skin around the eyes, and irritation itself causes puffiness."
        ),
        "conditions": PUFFY + WRINKLES,
        "severities": LMH,
    },
    {
        "name": "Lightweight oil-free moisturiser",
        "category": "moisturiser",
        "order": 10,
        "key_ingredients": "glycerin, hyaluronic acid",
        "skin_types": "",
        "usage": (
            "Morning and evening, after any treatment. Acne treatments dry the skin, and a "
            "non-comedogenic gel or gel-cream helps you keep using them."
        ),
        "conditions": ACNE_ANY + ["facial/normal", "facial/clear_skin", "acne-severity/clear"],
        "severities": LMH,
    },
    {
        "name": "Barrier-repair moisturiser with ceramides",
        "category": "moisturiser",
        "order": 20,
        "key_ingredients": "ceramides, glycerin, squalane",
        "skin_types": "",
        "usage": (
            "Morning and evening, or whenever skin feels tight. It supports the skin barrier, "
            "which helps skin tolerate active ingredients; fragrance-free is best."
        ),
        "conditions": PIGMENT + WRINKLES + ACNE_SEVERE + CLEAR,
        "severities": LMH,
    },
    {
        "name": "Bland lip balm and emollient",
        "category": "moisturiser",
        "order": 30,
        "key_ingredients": "petrolatum, dimethicone",
        "skin_types": "",
        "usage": (
            "For the dryness that prescription acne treatment, especially isotretinoin, causes: "
            "lip balm many times a day, and a plain emollient on dry patches."
        ),
        "conditions": ACNE_SEVERE,
        "severities": LMH,
    },
    {
        "name": "Oil-free broad-spectrum sunscreen SPF 30+",
        "category": "sunscreen",
        "order": 10,
        "key_ingredients": "UVA and UVB filters (e.g. zinc oxide, titanium dioxide or modern filters)",
        "skin_types": "III,IV,V,VI",
        "usage": (
            "Every morning as the last step, about half a teaspoon for the face and neck; "
            "reapply every two hours outdoors and after swimming or sweating. Look for "
            "'non-comedogenic' and a UVA rating."
        ),
        "conditions": ACNE_ANY + CLEAR + PUFFY,
        "severities": LMH,
    },
    {
        "name": "Oil-free broad-spectrum sunscreen SPF 50+",
        "category": "sunscreen",
        "order": 20,
        "key_ingredients": "UVA and UVB filters with high UVA protection",
        "skin_types": "I,II",
        "usage": (
            "Fair skin that burns easily needs the highest protection. Every morning as the last "
            "step, about half a teaspoon for the face and neck; reapply every two hours outdoors "
            "and after swimming or sweating."
        ),
        "conditions": ACNE_ANY + CLEAR + PUFFY,
        "severities": LMH,
    },
    {
        "name": "Tinted mineral sunscreen with iron oxides SPF 30+",
        "category": "sunscreen",
        "order": 30,
        "key_ingredients": "zinc oxide, titanium dioxide, iron oxides",
        "skin_types": "III,IV,V,VI",
        "usage": (
            "Every morning as the last step, in a shade that matches your skin, so there is no "
            "white cast. The iron oxides in the tint also block visible light, which can deepen "
            "pigmentation and post-acne marks in medium to dark skin."
        ),
        "conditions": PIGMENT + FACIAL_ACNE + ACNE_MILD_MOD,
        "severities": LMH,
    },
    {
        "name": "Broad-spectrum sunscreen SPF 50+",
        "category": "sunscreen",
        "order": 40,
        "key_ingredients": "UVA and UVB filters with high UVA protection",
        "skin_types": "",
        "usage": (
            "Apply generously to all exposed skin before going out, and reapply every two hours "
            "and after swimming or sweating. Sunscreen lowers the chance of new sun damage; it "
            "does not treat a spot you already have."
        ),
        "conditions": LESIONS + PIGMENT + WRINKLES,
        "severities": LMH,
    },
    {
        "name": "UV-protective clothing and a wide-brimmed hat (UPF 50+)",
        "category": "sun-protection",
        "order": 10,
        "key_ingredients": "",
        "skin_types": "",
        "usage": (
            "Clothing with a UPF label, a hat that shades the face, ears and neck, and "
            "UV-blocking sunglasses protect better than sunscreen alone and do not wear off."
        ),
        "conditions": LESIONS + ["facial/pigmentation"],
        "severities": LMH,
    },
]


def _condition_refs():
    return {(c["task"], c["key"]) for c in CONDITIONS}


def seed(apps, schema_editor):
    Condition = apps.get_model("recommendations", "Condition")
    SeverityRule = apps.get_model("recommendations", "SeverityRule")
    Tip = apps.get_model("recommendations", "Tip")
    ProductCategory = apps.get_model("recommendations", "ProductCategory")
    Product = apps.get_model("recommendations", "Product")

    conditions = {}
    for data in CONDITIONS:
        data = dict(data)
        rule = data.pop("rule")
        condition, _ = Condition.objects.get_or_create(
            task=data.pop("task"), key=data.pop("key"), defaults=data
        )
        conditions[f"{condition.task}/{condition.key}"] = condition
        SeverityRule.objects.get_or_create(condition=condition, defaults=rule)

    def flags(severities):
        return {f"for_{name}": name[0] in severities for name in ("low", "medium", "high")}

    for text, refs, severities, order in TIPS:
        tip, created = Tip.objects.get_or_create(
            text=text, defaults={"order": order, **flags(severities)}
        )
        if created:
            tip.conditions.set([conditions[ref] for ref in refs])

    categories = {}
    for slug, name, order, description in CATEGORIES:
        categories[slug], _ = ProductCategory.objects.get_or_create(
            slug=slug, defaults={"name": name, "order": order, "description": description}
        )
    for data in PRODUCTS:
        data = dict(data)
        refs = data.pop("conditions")
        severities = data.pop("severities")
        data["category"] = categories[data["category"]]
        product, created = Product.objects.get_or_create(
            name=data.pop("name"), defaults={**data, **flags(severities)}
        )
        if created:
            product.conditions.set([conditions[ref] for ref in refs])


def unseed(apps, schema_editor):
    Condition = apps.get_model("recommendations", "Condition")
    Tip = apps.get_model("recommendations", "Tip")
    ProductCategory = apps.get_model("recommendations", "ProductCategory")
    Product = apps.get_model("recommendations", "Product")

    Product.objects.filter(name__in=[p["name"] for p in PRODUCTS]).delete()
    Tip.objects.filter(text__in=[t[0] for t in TIPS]).delete()
    for task, key in _condition_refs():
        Condition.objects.filter(task=task, key=key).delete()  # cascades to severity rules
    ProductCategory.objects.filter(
        slug__in=[c[0] for c in CATEGORIES], products__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("recommendations", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
