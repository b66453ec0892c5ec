"""Stop words for topic labels: scikit-learn's English list plus a Portuguese list shipped here (sklearn has none).

The Portuguese list is the common function words (articles, pronouns, prepositions, conjunctions, forms of ser/estar/
ter/ir/haver) as in the Snowball list, written out so no corpus download is needed at run time. Accented and
unaccented spellings are both listed: reviews are often typed without accents.
"""

from __future__ import annotations

from functools import cache

PORTUGUESE_STOP_WORDS = frozenset(
    """
    a à ao aos aquela aquelas aquele aqueles aquilo as às até com como da das de dela delas dele deles depois do dos
    e é ela elas ele eles em entre era eram éramos essa essas esse esses esta está estamos estão estar estas estava
    estavam estávamos este esteja estejam estejamos estes esteve estive estivemos estiver estivera estiveram
    estivéramos estiverem estivermos estivesse estivessem estivéssemos estou eu foi fomos for fora foram fôramos forem
    formos fosse fossem fôssemos fui há haja hajam hajamos hão havemos haver hei houve houvemos houver houvera
    houverá houveram houvéramos houverão houverei houverem houveremos houveria houveriam houveríamos houvermos
    houvesse houvessem houvéssemos isso isto já lhe lhes mais mas me mesmo meu meus minha minhas muito na não nas nem
    no nos nós nossa nossas nosso nossos num numa o os ou para pela pelas pelo pelos por qual quando que quem são se
    seja sejam sejamos sem ser será serão serei seremos seria seriam seríamos seu seus só somos sou sua suas também
    te tem tém temos tenha tenham tenhamos tenho terá terão terei teremos teria teriam teríamos teu teus teve tinha
    tinham tínhamos tive tivemos tiver tivera tiveram tivéramos tiverem tivermos tivesse tivessem tivéssemos tu tua
    tuas um uma umas uns você vocês vos
    ate ja nao voce voces tambem so sera serao esta estao tem ha entao então pra pro pq q vc vcs tb tbm ai aí la lá
    ainda assim agora aqui ali bem cada coisa onde porque porém porem pois quanto quase sempre sobre tudo todo toda
    todos todas outro outra outros outras vai vou veio fazer feito fiz faz dia dias
    """.split()
)

# Tokens that say nothing about a theme in social and review text (URL pieces, retweet marks, HTML entities).
NOISE_WORDS = frozenset(
    {"rt", "amp", "http", "https", "www", "com", "co", "gt", "lt", "im", "ive", "dont", "just", "ll", "ve", "re"}
    # What is left of English contractions once the apostrophe splits them ("don't" -> "don").
    | {"don", "didn", "doesn", "isn", "wasn", "aren", "weren", "won", "wouldn", "couldn", "shouldn", "haven", "hasn"}
)


@cache
def stop_words() -> frozenset[str]:
    """English, Portuguese and noise words, left out of topic labels."""
    # scikit-learn is imported here, by the labelling that needs it, not with the module: this module is on the
    # import path of every process (web, API, CLI), and importing sklearn took ~28 % of the app's start-up.
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | PORTUGUESE_STOP_WORDS | NOISE_WORDS
