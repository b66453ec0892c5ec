"""Example sentences per sentiment class (English and Portuguese) that anchor the default sentiment model.

The e5 head shipped by sentimentai rarely predicts neutral. Similarity to these hand-written examples (questions and
requests are neutral; factual "arrived on time, as described" reads as praise in reviews) corrects that without
training on anyone's labelled data. Edit them to teach a domain; benchmarks/text_eval.py measures the effect.
"""

from __future__ import annotations

ANCHORS: dict[str, list[str]] = {
    "negative": [
        "This is terrible, I am very disappointed.",
        "Worst service ever, never again.",
        "My order never arrived and nobody answers.",
        "The product broke after one day.",
        "I was charged twice and still have no refund.",
        "Flight delayed for hours, awful experience.",
        "Horrível, estou muito decepcionado.",
        "Péssimo atendimento, nunca mais compro.",
        "Meu pedido não chegou e ninguém responde.",
        "O produto veio quebrado.",
        "Fui cobrado duas vezes e não recebi reembolso.",
        "Produto de má qualidade, não recomendo.",
    ],
    "neutral": [
        "What time does the store open tomorrow?",
        "Which terminal does my flight leave from?",
        "Can you tell me the status of my order?",
        "Is there a flight to Boston on Friday?",
        "I would like to change my address.",
        "Please send me the invoice.",
        "Qual é o prazo de entrega?",
        "Gostaria de saber o status do meu pedido.",
        "Por favor, me enviem a nota fiscal.",
        "Como faço para trocar o endereço?",
        "Vocês entregam no sábado?",
        "Chegou, ainda não usei.",
    ],
    "positive": [
        "Excellent service, thank you so much!",
        "I love it, works perfectly.",
        "Arrived early and well packaged, great job.",
        "Arrived on time, exactly as described.",
        "The staff were friendly and helpful.",
        "Highly recommend, very happy.",
        "Thanks for the quick help, amazing crew!",
        "Excelente, muito obrigado!",
        "Adorei, funciona perfeitamente.",
        "Chegou antes do prazo e bem embalado.",
        "Chegou no prazo, conforme descrito.",
        "Atendimento ótimo, equipe muito atenciosa.",
        "Recomendo, estou muito satisfeita.",
        "Produto maravilhoso, superou as expectativas.",
    ],
}
