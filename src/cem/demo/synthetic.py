"""A smaller, seeded stand-in for each public dataset, in the same file shape, for machines without the data."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from cem.demo.olist import OlistTables
from cem.demo.sources import CsvTable, Row

SEED = 20180901
TIME = "%Y-%m-%d %H:%M:%S"
CITIES = [
    ("sao paulo", "SP", "01310"),
    ("rio de janeiro", "RJ", "20040"),
    ("belo horizonte", "MG", "30130"),
    ("curitiba", "PR", "80010"),
    ("porto alegre", "RS", "90010"),
    ("salvador", "BA", "40020"),
    ("recife", "PE", "50030"),
    ("brasilia", "DF", "70040"),
]
STATUSES = (
    ["delivered"] * 82 + ["shipped"] * 6 + ["canceled"] * 5 + ["unavailable"] * 3 + ["invoiced", "processing"] * 2
)
# Late deliveries score low, as in the real data; undelivered orders lower still.
SCORE_WEIGHTS = {"late": (45, 20, 15, 10, 10), "on_time": (5, 5, 10, 30, 50), "undelivered": (60, 15, 10, 5, 10)}
REVIEW_TEXTS = {
    "low": [("pt", "Produto não chegou no prazo", "Comprei e até agora nada, péssimo atendimento."),
            ("pt", "", "Chegou atrasado e com a caixa amassada."),
            ("en", "Late", "The parcel arrived two weeks late and nobody answered my emails.")],
    "high": [("pt", "Recomendo", "Entrega rápida, produto de ótima qualidade."),
             ("pt", "", "Chegou antes do prazo, tudo certo."),
             ("en", "Great", "Arrived early and well packed, thank you!")],
}  # fmt: skip


def olist_tables(customers: int = 300, orders: int = 420, seed: int = SEED) -> OlistTables:
    """Orders over 2018 for `customers` people, with items, payments and reviews (~12 % of deliveries late)."""
    rng = random.Random(seed)
    people = [f"synthetic-{n:04d}" for n in range(1, customers + 1)]
    tables: dict[str, list[Row]] = {k: [] for k in ("orders", "customers", "items", "payments", "reviews")}
    for n in range(1, orders + 1):
        order_id = f"synthetic-order-{n:04d}"
        person = people[n - 1] if n <= customers else rng.choice(people)
        city, state, zip_prefix = CITIES[int(person[-4:]) % len(CITIES)]
        customer_id = f"synthetic-buyer-{n:04d}"
        tables["customers"].append(
            {
                "customer_id": customer_id,
                "customer_unique_id": person,
                "customer_zip_code_prefix": zip_prefix,
                "customer_city": city,
                "customer_state": state,
            }
        )
        order, outcome = _order(rng, order_id, customer_id)
        tables["orders"].append(order)
        _items_and_payment(rng, order_id, tables)
        if rng.random() < 0.9:
            tables["reviews"].append(_review(rng, n, order, outcome))
    return OlistTables(**{k: CsvTable(name=f"synthetic {k}", rows=v) for k, v in tables.items()})


def _order(rng: random.Random, order_id: str, customer_id: str) -> tuple[Row, str]:
    status = rng.choice(STATUSES)
    purchased = datetime(2018, 1, 1) + timedelta(minutes=rng.randrange(300 * 24 * 60))
    approved = purchased + timedelta(minutes=rng.randrange(10, 600))
    estimated = (purchased + timedelta(days=rng.randrange(15, 30))).replace(hour=0, minute=0, second=0)
    shipped = delivered = None
    outcome = "undelivered"
    if status in ("delivered", "shipped"):
        shipped = approved + timedelta(hours=rng.randrange(24, 96))
    if status == "delivered":
        late = rng.random() < 0.12
        delivered = estimated + timedelta(hours=rng.randrange(6, 240) * (1 if late else -1))
        delivered = max(delivered, (shipped or approved) + timedelta(hours=12))
        outcome = "late" if delivered > estimated else "on_time"
    row = {
        "order_id": order_id,
        "customer_id": customer_id,
        "order_status": status,
        "order_purchase_timestamp": purchased.strftime(TIME),
        "order_approved_at": approved.strftime(TIME) if status != "canceled" else "",
        "order_delivered_carrier_date": shipped.strftime(TIME) if shipped else "",
        "order_delivered_customer_date": delivered.strftime(TIME) if delivered else "",
        "order_estimated_delivery_date": estimated.strftime(TIME),
    }
    return row, outcome


def _items_and_payment(rng: random.Random, order_id: str, tables: dict[str, list[Row]]) -> None:
    total = 0.0
    for item in range(1, rng.randrange(2, 4)):
        price, freight = round(rng.uniform(20, 400), 2), round(rng.uniform(5, 40), 2)
        total += price + freight
        tables["items"].append(
            {"order_id": order_id, "order_item_id": str(item), "price": str(price), "freight_value": str(freight)}
        )
    kind = rng.choice(["credit_card", "credit_card", "boleto", "voucher"])
    tables["payments"].append({"order_id": order_id, "payment_type": kind, "payment_value": f"{total:.2f}"})


def _review(rng: random.Random, n: int, order: Row, outcome: str) -> Row:
    score = rng.choices(range(1, 6), weights=SCORE_WEIGHTS[outcome])[0]
    created = datetime.strptime(order["order_delivered_customer_date"] or order["order_estimated_delivery_date"], TIME)
    created = created.replace(hour=0, minute=0, second=0) + timedelta(days=1)
    language, title, message = "pt", "", ""
    if rng.random() < 0.5:
        language, title, message = rng.choice(REVIEW_TEXTS["low" if score <= 2 else "high"])
    return {
        "review_id": f"synthetic-review-{n:04d}",
        "order_id": order["order_id"],
        "review_score": str(score),
        "review_comment_title": title,
        "review_comment_message": message,
        "review_creation_date": created.strftime(TIME),
        "review_answer_timestamp": (created + timedelta(hours=rng.randrange(1, 72))).strftime(TIME),
        "review_language": language,
    }


AIRLINES = ["United", "US Airways", "Southwest", "Delta", "American", "Virgin America"]
TWEETS = {
    "negative": ["@{a} my flight was Cancelled Flightled and no one can rebook me", "@{a} two hours on hold, again."],
    "neutral": ["@{a} what is the baggage allowance to Denver?", "@{a} is there wifi on the morning flight?"],
    "positive": ["@{a} thanks for the upgrade, great crew today!", "@{a} smooth flight & friendly staff, thank you"],
}


def tweet_table(count: int = 120, seed: int = SEED) -> CsvTable:
    """Short airline tweets with a human sentiment label, from 60 authors."""
    rng = random.Random(seed)
    rows = []
    for n in range(1, count + 1):
        airline = rng.choice(AIRLINES)
        sentiment = rng.choices(list(TWEETS), weights=(63, 21, 16))[0]
        handle = "@" + airline.replace(" ", "")
        created = datetime(2015, 2, 17) + timedelta(minutes=rng.randrange(8 * 24 * 60))
        rows.append(
            {
                "tweet_id": str(570_000_000_000_000_000 + n),
                "airline_sentiment": sentiment,
                "airline_sentiment_confidence": f"{rng.uniform(0.6, 1):.3f}",
                "negativereason": "Customer Service Issue" if sentiment == "negative" else "",
                "airline": airline,
                "name": f"traveller_{rng.randrange(1, 61):02d}",
                "retweet_count": "0",
                "text": rng.choice(TWEETS[sentiment]).format(a=handle),
                "tweet_created": created.strftime(TIME) + " -0800",
                "tweet_location": "",
                "user_timezone": "Pacific Time (US & Canada)",
            }
        )
    return CsvTable(name="synthetic tweets", rows=rows)


def telco_table(count: int = 200, seed: int = SEED) -> CsvTable:
    """Telco-shaped customers; month-to-month contracts churn more, as in the IBM data."""
    rng = random.Random(seed)
    rows = []
    for n in range(1, count + 1):
        contract = rng.choice(["Month-to-month", "Month-to-month", "One year", "Two year"])
        tenure = rng.randrange(0, 72)
        monthly = round(rng.uniform(18, 118), 2)
        churn_rate = 0.42 if contract == "Month-to-month" else 0.08
        rows.append(
            {
                "customerID": f"SYN-{n:04d}",
                "gender": rng.choice(["Female", "Male"]),
                "SeniorCitizen": str(int(rng.random() < 0.16)),
                "tenure": str(tenure),
                "InternetService": rng.choice(["DSL", "Fiber optic", "No"]),
                "Contract": contract,
                "MonthlyCharges": str(monthly),
                "TotalCharges": f"{monthly * tenure:.2f}" if tenure else " ",
                "Churn": "Yes" if rng.random() < churn_rate else "No",
            }
        )
    return CsvTable(name="synthetic telco", rows=rows)
